#include "corral/run/supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <fmt/format.h>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "corral/base/error.hpp"
#include "corral/box/cgroup_util.hpp"
#include "corral/oom/oom_watch.hpp"
#include "corral/run/event_loop.hpp"
#include "corral/run/output.hpp"
#include "corral/run/procinfo.hpp"
#include "corral/run/spawn.hpp"
#include "corral/run/signals.hpp"
#include "corral/run/suite_run.hpp"

namespace corral {

namespace {

// SIGCHLD: reap the orphans that reparented to us (we are a child subreaper), not our suites' main
// processes or hooks, whose pidfds are reaped by their owners.
void reap_orphans(const std::vector<std::unique_ptr<SuiteRun>>& runs) {
    auto text = read_file_if_exists(fmt::format("/proc/self/task/{}/children", ::getpid()));
    if (!text) return;
    std::istringstream in(*text);
    pid_t p;
    while (in >> p) {
        bool owned = false;
        for (const auto& r : runs)
            if (r && r->owns_pid(p)) owned = true;
        if (!owned) ::waitpid(p, nullptr, WNOHANG);
    }
}

// systemd's own view of each scope, from the journal: what the manager logged about the unit
// ("A process of this unit has been killed by the OOM killer.", "Failed with result 'oom-kill'.",
// "Consumed …"). On the unified hierarchy systemd logs the OOM line when it sees the kill in
// memory.events, a moment after the kernel: an OOM-killed scope's messages are read again until
// that line is there, for at most the settle window (at least 1 s). On v1 systemd never logs it.
void add_unit_messages(std::vector<SuiteResult>& results, const RunOptions& opts) {
    constexpr std::string_view kOomLine = "killed by the OOM killer";
    for (auto& r : results) {
        if (!r.systemd.is_object() || !r.systemd.contains("unit") || !r.systemd["unit"].is_string()) continue;
        const std::string unit = r.systemd["unit"];
        if (!opts.oom || opts.oom->source() != "journal") {
            r.systemd["journal"] = nullptr;
            r.systemd["journal_why"] = opts.oom ? "the run reads kernel records from " + opts.oom->source() +
                                                      ", not from the journal"
                                                : std::string("no kernel record source");
            continue;
        }
        const bool expect_oom_line = r.oom_kills > 0 && r.systemd.value("cgroup_mode", "") == "unified";
        const auto deadline =
            std::chrono::steady_clock::now() + std::max<Duration>(opts.oom_settle, std::chrono::seconds(1));
        for (;;) {
            std::vector<std::string> messages;
            try {
                messages = opts.oom->unit_messages(unit).value_or(std::vector<std::string>{});
            } catch (const Error& e) {
                r.systemd["journal"] = nullptr;
                r.systemd["journal_why"] = e.what();
                break;
            }
            const bool has_oom_line = std::any_of(messages.begin(), messages.end(), [&](const std::string& m) {
                return m.find(kOomLine) != std::string::npos;
            });
            if (!expect_oom_line || has_oom_line || std::chrono::steady_clock::now() >= deadline) {
                r.systemd["journal"] = std::move(messages);
                break;
            }
            ::usleep(50'000);
        }
    }
}

// CORRAL_SAMPLE_WINDOW (a duration, for tests): how long samples stay at full resolution instead of
// 10 minutes, so that a short run has history buckets.
SeriesBounds sample_bounds() {
    SeriesBounds b;
    const char* v = std::getenv("CORRAL_SAMPLE_WINDOW");
    if (!v || !*v) return b;
    try {
        b.window_s = to_seconds(parse_duration(v));
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("CORRAL_SAMPLE_WINDOW=") + v + ": " + e.what());
    }
    return b;
}

}  // namespace
RunOutcome run_suites(Backend& backend, const std::vector<SuiteSpec>& suites, const RunOptions& opts) {
    RunOutcome outcome;
    auto& results = outcome.results;
    bool& interrupted = outcome.interrupted;
    results.resize(suites.size());
    std::optional<Signals> own_signals;
    Signals* signals = opts.signals;
    if (!signals) signals = &own_signals.emplace();
    const SeriesBounds bounds = sample_bounds();
    for (auto& r : results) {
        r.samples = MemorySeries(bounds);
        r.pressure = PressureSeries(bounds);
    }
    Runner runner(backend, opts);
    auto& runs = runner.runs;
    runs.resize(suites.size());
    // Orphans of the suites (double-forked daemons) come to corral, which reaps them; without this
    // they would go to init, and a box could empty with corral never seeing them exit.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) throw_errno("prctl(PR_SET_CHILD_SUBREAPER)");

    std::deque<size_t> pending;
    for (size_t i = 0; i < suites.size(); ++i) pending.push_back(i);
    int signals_seen = 0;

    runner.loop.add(signals->fd(), EPOLLIN, [&](std::uint32_t) {
        for (int sig : signals->read()) {
            if (sig == SIGCHLD) {
                reap_orphans(runs);
                continue;
            }
            interrupted = true;
            ++signals_seen;
            runner.say(fmt::format("got {}: {} running suites", strsignal(sig),
                                   signals_seen == 1 ? "ending the" : "killing the"));
            for (auto& r : runs)
                if (r) signals_seen == 1 ? r->interrupt() : r->kill_now();
        }
    });
    if (opts.oom && opts.oom->fd() >= 0)
        runner.loop.add(opts.oom->fd(), EPOLLIN, [&](std::uint32_t) { runner.poll_oom(); });

    // The backends' managers (the systemd bus): their events move boxes that wait for a job or an
    // unload; a method call may have read a signal along with its reply, so each wait starts with a
    // dispatch.
    std::vector<Backend*> backends = opts.backends;
    if (backends.empty()) backends.push_back(&backend);
    auto dispatch = [&](Backend* b) {
        try {
            b->dispatch();
        } catch (const Error& e) {
            runner.say(fmt::format("warning: {}: reading the service manager's messages: {}", b->name(), e.what()));
        }
        for (auto& r : runs)
            if (r) r->on_backend_event(b);
    };
    for (Backend* b : backends)
        if (int fd = b->event_fd(); fd >= 0) runner.loop.add(fd, EPOLLIN, [&, b](std::uint32_t) { dispatch(b); });
    // corral's own stdout/stderr: watched for EPOLLOUT only while they hold what a slow reader has
    // not taken yet.
    std::array<std::pair<LiveOutput*, int>, 2> lives{{{&runner.live_out, -1}, {&runner.live_err, -1}}};
    // The live progress (a terminal's status area, or lines for a log): what each running suite does.
    Progress progress(opts.progress, runner.loop, runner.live_out, runner.live_err, [&] {
        std::vector<SuiteStatus> out;
        for (const auto& r : runs)
            if (r && r->running()) out.push_back(r->status());
        return out;
    });
    runner.progress = &progress;
    runner.loop.before_wait([&] {
        progress.before_wait();
        for (Backend* b : backends)
            if (b->event_fd() >= 0) dispatch(b);
        for (auto& [live, watched] : lives) {
            int want = live->poll_fd();
            if (want == watched) continue;
            if (watched >= 0) runner.loop.remove(watched);
            watched = -1;
            if (want >= 0) {
                try {
                    runner.loop.add(want, EPOLLOUT, [live = live](std::uint32_t) { live->flush(); });
                    watched = want;
                } catch (const Error&) {
                    // not pollable: the next write tries again
                }
            }
        }
    });

    // split: {fail_fast: true}: a batch of that suite has ended without passing.
    auto split_failed = [&](const SuiteSpec& spec) {
        if (!spec.split || !spec.split->fail_fast) return false;
        for (size_t j = 0; j < suites.size(); ++j)
            if (runs[j] && runs[j]->done() && suites[j].split && suites[j].split->of == spec.split->of &&
                results[j].verdict != Verdict::Passed)
                return true;
        return false;
    };
    auto active = [&] {
        size_t n = 0;
        for (const auto& r : runs)
            if (r && !r->done()) ++n;
        return n;
    };
    for (;;) {
        while (!interrupted && !pending.empty() && active() < static_cast<size_t>(std::max(1, opts.jobs))) {
            size_t i = pending.front();
            pending.pop_front();
            if (split_failed(suites[i])) {
                outcome.not_run.push_back(i);
                continue;
            }
            runs[i] = std::make_unique<SuiteRun>(runner, suites[i], results[i]);
            runs[i]->start();
        }
        if (active() == 0 && (pending.empty() || interrupted)) break;
        runner.loop.run_once(-1);
    }
    // Records the kernel writes late still find their suite: keep reading for a settle window
    // while a box counted more OOM kills than records arrived for it. (The kernel logs "Killed
    // process" before it counts the kill, so a run without a missing record need not wait.)
    bool missing = std::any_of(results.begin(), results.end(),
                               [](const SuiteResult& r) { return r.oom_kills > r.oom_records.size(); });
    if (missing && opts.oom && opts.oom->fd() >= 0 && opts.oom_settle.count() > 0) {
        Timer settle;
        bool settled = false;
        settle.arm_once(opts.oom_settle);
        runner.loop.add(settle.fd(), EPOLLIN, [&](std::uint32_t) { settled = settle.consume() || settled; });
        const int seen_before = signals_seen;
        // Until every count has its records, the window ends, or an interrupt cuts it short.
        while (!settled && signals_seen == seen_before &&
               std::any_of(results.begin(), results.end(),
                           [](const SuiteResult& r) { return r.oom_kills > r.oom_records.size(); }))
            runner.loop.run_once(-1);
        runner.loop.remove(settle.fd());
        runner.poll_oom();
    }
    progress.finish();
    runner.progress = nullptr;
    add_unit_messages(results, opts);
    for (size_t i : pending) {  // never started because corral was interrupted
        results[i].name = suites[i].name;
        results[i].command = suites[i].command_text;
        results[i].limits = suites[i].limits;
        results[i].timeout = suites[i].timeout;
        results[i].stall_timeout = suites[i].stall_timeout;
        results[i].interrupted = true;
        results[i].notes.push_back("not started: corral was interrupted before this suite's turn");
        finalize(results[i]);
    }
    for (size_t i = 0; i < suites.size(); ++i) {
        results[i].split = suites[i].split;
        results[i].profile = suites[i].profile;
    }
    reap_orphans(runs);
    outcome.run_oom_records = std::move(runner.run_oom_records);
    outcome.boxes_left = runner.boxes_left;
    outcome.live_output_dropped = runner.live_out.dropped() + runner.live_err.dropped();
    runner.live_out.drain(std::chrono::seconds(5));
    runner.live_err.drain(std::chrono::seconds(5));
    return outcome;
}

}  // namespace corral
