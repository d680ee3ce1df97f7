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
    const SeriesBounds bounds = sample_bounds();
    for (auto& r : results) {
        r.samples = MemorySeries(bounds);
        r.pressure = PressureSeries(bounds);
    }
    Runner runner(backend, opts);
    auto& runs = runner.runs;
    runs.resize(suites.size());
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGCHLD);
    sigset_t old;
    if (::sigprocmask(SIG_BLOCK, &mask, &old) < 0) throw_errno("sigprocmask");
    struct Restore {
        sigset_t old;
        ~Restore() { ::sigprocmask(SIG_SETMASK, &old, nullptr); }
    } restore{old};
    UniqueFd sfd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!sfd) throw_errno("signalfd");

    std::deque<size_t> pending;
    for (size_t i = 0; i < suites.size(); ++i) pending.push_back(i);
    int signals_seen = 0;

    runner.loop.add(sfd.get(), EPOLLIN, [&](std::uint32_t) {
        signalfd_siginfo si;
        while (::read(sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
            if (si.ssi_signo == SIGCHLD) {
                reap_orphans(runs);
                continue;
            }
            interrupted = true;
            ++signals_seen;
            std::cerr << fmt::format("corral: got {}: {} running suites\n", strsignal(static_cast<int>(si.ssi_signo)),
                                     signals_seen == 1 ? "ending the" : "killing the");
            for (auto& r : runs)
                if (r) signals_seen == 1 ? r->interrupt() : r->kill_now();
        }
    });
    if (opts.oom && opts.oom->fd() >= 0)
        runner.loop.add(opts.oom->fd(), EPOLLIN, [&](std::uint32_t) { runner.poll_oom(); });

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
        while (!settled) runner.loop.run_once(-1);
        runner.loop.remove(settle.fd());
        runner.poll_oom();
    }
    add_unit_messages(results, opts);
    for (size_t i : pending) {  // never started because corral was interrupted
        results[i].name = suites[i].name;
        results[i].command = suites[i].command_text;
        results[i].limits = suites[i].limits;
        results[i].timeout = suites[i].timeout;
        results[i].interrupted = true;
        results[i].notes.push_back("not started: corral was interrupted before this suite's turn");
        finalize(results[i]);
    }
    reap_orphans(runs);
    outcome.run_oom_records = std::move(runner.run_oom_records);
    return outcome;
}

}  // namespace corral
