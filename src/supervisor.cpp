#include "corral/supervisor.hpp"

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
#include <deque>
#include <fmt/format.h>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include "corral/cgroup_util.hpp"
#include "corral/error.hpp"
#include "corral/event_loop.hpp"
#include "corral/oom_watch.hpp"
#include "corral/output.hpp"
#include "corral/procinfo.hpp"
#include "corral/spawn.hpp"

namespace corral {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kLeftBehindListed = 5;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string join_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
    return out;
}

class Runner;

// One suite from start to an empty box.
class SuiteRun {
public:
    enum class Phase { Running, Hook, Grace, Killing, Done };

    SuiteRun(Runner& runner, const SuiteSpec& spec, SuiteResult& result) : r_(runner), spec_(spec), res_(result) {}
    ~SuiteRun();

    void start();
    void interrupt();
    void kill_now();
    bool done() const { return phase_ == Phase::Done; }
    bool owns_pid(pid_t p) const { return p == pid_ || p == hook_pid_; }
    bool started() const { return started_; }
    // Attaches the record when it belongs to this suite (its box, or a pid seen in it).
    bool take_oom(const OomRecord& rec);

private:
    void fail_launch(const std::string& what);
    void on_main_exit();
    void on_deadline();
    void on_sample();
    void on_hook_exit();
    void start_hook();
    void begin_termination();
    void check_done();
    void finish();
    OutputStream make_stream(UniqueFd read_end, const char* ext, int live_fd);
    void watch_stream(OutputStream& s);
    // Unregisters one of this run's fds (and forgets it, so that a later finish() cannot
    // unregister the same number after it was reused by another suite).
    void unwatch(int fd);

    Runner& r_;
    const SuiteSpec& spec_;
    SuiteResult& res_;
    Phase phase_ = Phase::Running;
    std::unique_ptr<Box> box_;
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    bool main_done_ = false;
    std::optional<OutputStream> out_, err_;
    std::optional<Timer> sample_timer_, deadline_;
    Clock::time_point t0_;
    pid_t hook_pid_ = -1;
    UniqueFd hook_pidfd_;
    Clock::time_point hook_t0_;
    std::vector<int> watched_;
    bool started_ = false;
    std::string box_name_;         // "" when unboxed
    std::set<pid_t> pids_seen_;    // every pid seen in the box, for OOM attribution
    double start_mono_s_ = 0;
    bool oom_group_done_ = false;  // emulated memory.oom_group fired
};

class Runner {
public:
    Runner(Backend& backend, const RunOptions& opts) : backend(backend), opts(opts) {}

    Backend& backend;
    const RunOptions& opts;
    EventLoop loop;
    std::vector<std::unique_ptr<SuiteRun>> runs;
    std::vector<nlohmann::json> run_oom_records;

    // Reads the OOM source and hands every completed record to the suite it belongs to.
    void poll_oom() {
        if (!opts.oom || opts.oom->fd() < 0) return;
        for (const auto& rec : opts.oom->poll()) {
            bool taken = false;
            for (auto& r : runs)
                if (r && r->started() && r->take_oom(rec)) {
                    taken = true;
                    break;
                }
            if (taken) continue;
            // In corral's own subtree but in no suite: the run-level part of the report.
            bool ours = !opts.launcher_memcg.empty() && (cgroup_path_matches(rec.task_memcg, opts.launcher_memcg) ||
                                                         cgroup_path_matches(rec.oom_memcg, opts.launcher_memcg));
            if (ours) run_oom_records.push_back(oom_record_to_json(rec, WhoseLimit::Ancestor, 0, wall_clock_offset()));
        }
    }

    void watch(int fd, std::uint32_t events, EventLoop::Handler h, std::vector<int>& owned) {
        loop.add(fd, events, std::move(h));
        owned.push_back(fd);
    }
};

OutputStream SuiteRun::make_stream(UniqueFd read_end, const char* ext, int live_fd) {
    std::string file = fmt::format("{}.{}", spec_.name, ext);
    std::string path = r_.opts.report_dir + "/" + file;
    UniqueFd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!f) throw_errno("create " + path);
    (std::string(ext) == "stdout" ? res_.stdout_file : res_.stderr_file) = file;
    std::string prefix = r_.opts.prefix_output ? "[" + spec_.name + "] " : "";
    return OutputStream(std::move(read_end), std::move(f), live_fd, prefix, &res_.last_line);
}

void SuiteRun::watch_stream(OutputStream& s) {
    r_.watch(s.fd(), EPOLLIN, [this, &s](std::uint32_t) {
        if (!s.pump()) {
            unwatch(s.fd());  // before the fd is closed and its number reused
            s.drain();
        }
    }, watched_);
}

void SuiteRun::unwatch(int fd) {
    r_.loop.remove(fd);
    std::erase(watched_, fd);
}

void SuiteRun::fail_launch(const std::string& what) {
    res_.launch_error = what;
    finish();
}

void SuiteRun::start() {
    res_.name = spec_.name;
    res_.command = spec_.command_text.empty() ? join_argv(spec_.argv) : spec_.command_text;
    res_.limits = spec_.limits;
    res_.timeout = spec_.timeout;
    res_.kill_grace = spec_.kill_grace;
    t0_ = Clock::now();
    started_ = true;
    start_mono_s_ = monotonic_now_s();
    Backend* backend = &r_.backend;
    if (r_.opts.pick) {
        std::string error;
        backend = r_.opts.pick(spec_, res_.backend_reason, error);
        if (!backend) return fail_launch(error);
    } else if (spec_.backend == BackendChoice::SystemdScope && r_.backend.name() != "systemd-scope") {
        return fail_launch("backend systemd-scope was asked for, but this run uses " + r_.backend.name());
    }
    res_.backend = backend->name();
    UniqueFd out_r, out_w, err_r, err_w;
    try {
        box_ = backend->create_box(spec_.name);
        res_.boxed = box_->enforced();
        if (res_.boxed) box_name_ = box_->cgroup_name();
        res_.cgroup = box_->describe();
        box_->apply_limits(spec_.limits);
        res_.notes = box_->notes();
        for (auto [r, w] : {std::pair{&out_r, &out_w}, std::pair{&err_r, &err_w}}) {
            int fds[2];
            if (::pipe2(fds, O_CLOEXEC) < 0) throw_errno("pipe2");
            r->reset(fds[0]);
            w->reset(fds[1]);
        }
        out_.emplace(make_stream(std::move(out_r), "stdout", 1));
        err_.emplace(make_stream(std::move(err_r), "stderr", 2));
    } catch (const Error& e) {
        return fail_launch(std::string("preparing the suite's box: ") + e.what());
    }

    SpawnSpec sp;
    sp.argv = spec_.argv;
    auto env = spec_.env;
    env["CORRAL_SUITE"] = spec_.name;
    sp.env = build_env(spec_.env_clear, env);
    sp.workdir = spec_.workdir;
    sp.oom_score_adj = r_.opts.child_oom_score_adj;
    sp.stdout_fd = out_w.get();
    sp.stderr_fd = err_w.get();
    std::string no_cgroupns_why;
    sp.new_cgroup_ns = cgroup_namespace_allowed(no_cgroupns_why);
    res_.cgroup_namespace = sp.new_cgroup_ns;
    std::optional<HeldChild> held;
    try {
        held.emplace(spawn_held(sp, box_->cgroup_fd()));
        if (held->in_cgroup()) {
            res_.start_method = "clone3-into-cgroup";
        } else {
            box_->enter(held->pid());
            res_.start_method = box_->entry_method();
        }
    } catch (const Error& e) {
        return fail_launch(std::string("starting the suite in its box: ") + e.what());
    }
    res_.cgroup = box_->describe();  // a systemd scope knows its cgroup only once it runs
    res_.notes = box_->notes();
    if (!no_cgroupns_why.empty()) res_.notes.push_back(no_cgroupns_why);
    out_w.reset();
    err_w.reset();
    pid_ = held->pid();
    pids_seen_.insert(pid_);
    pidfd_ = held->take_pidfd();
    t0_ = Clock::now();
    std::string exec_error = held->release();
    if (!exec_error.empty()) {
        ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), nullptr, WEXITED);
        pid_ = -1;
        return fail_launch(exec_error);
    }

    watch_stream(*out_);
    watch_stream(*err_);
    r_.watch(pidfd_.get(), EPOLLIN, [this](std::uint32_t) { on_main_exit(); }, watched_);
    if (int pfd = box_->populated_fd(); pfd >= 0)
        r_.watch(pfd, EPOLLPRI, [this](std::uint32_t) {
            try {
                box_->populated();  // reading through the fd re-arms its notification
            } catch (const Error&) {
            }
            check_done();
        }, watched_);
    sample_timer_.emplace();
    sample_timer_->arm_periodic(spec_.sample_interval);
    r_.watch(sample_timer_->fd(), EPOLLIN, [this](std::uint32_t) {
        if (sample_timer_->consume()) on_sample();
    }, watched_);
    deadline_.emplace();
    if (spec_.timeout) deadline_->arm_once(*spec_.timeout);
    r_.watch(deadline_->fd(), EPOLLIN, [this](std::uint32_t) {
        if (deadline_->consume()) on_deadline();
    }, watched_);
    on_sample();  // t = 0
}

void SuiteRun::on_sample() {
    if (phase_ == Phase::Done || !box_) return;
    try {
        for (pid_t p : box_->pids()) pids_seen_.insert(p);
        BoxSample s = box_->sample();
        double t = seconds_since(t0_);
        if (box_->enforced()) {
            res_.samples.push_back({t, s.memory_bytes, res_.last_line});
            if (!res_.peak_sample || s.memory_bytes > res_.peak_sample->bytes) {
                PeakSample peak{t, s.memory_bytes, std::nullopt, std::nullopt};
                if (auto split = box_->memory_split()) {
                    peak.anon_bytes = split->anon_bytes;
                    peak.file_bytes = split->file_bytes;
                }
                res_.peak_sample = peak;
            }
        }
        if (s.pressure) {
            s.pressure->t_s = t;
            res_.pressure.push_back(*s.pressure);
        }
        if (spec_.limits.oom_group && !oom_group_done_ && phase_ == Phase::Running && box_->enforced() &&
            !box_->oom_group_native() && box_->oom_kills_now() > 0) {
            oom_group_done_ = true;
            int n = box_->kill_all();
            res_.notes.push_back(fmt::format(
                "memory.oom_group (emulated): corral killed the suite's remaining {} after its OOM kill at t={}",
                n == 1 ? std::string("process") : fmt::format("{} processes", n), format_seconds(t)));
        }
    } catch (const Error&) {
        // a sample lost while the box is torn down is not worth failing the run
    }
    if (box_->populated_fd() < 0) check_done();  // no cgroup.events to tell us
}

void SuiteRun::on_main_exit() {
    if (main_done_) return;
    auto st = reap(pidfd_.get());
    if (!st) return;
    main_done_ = true;
    res_.exit_code = st->exit_code;
    res_.signal = st->signal;
    unwatch(pidfd_.get());
    if (phase_ == Phase::Running) {
        auto left = box_->pids();
        if (!left.empty()) {
            res_.left_behind_count = left.size();
            if (left.size() > kLeftBehindListed) left.resize(kLeftBehindListed);
            res_.left_behind = snapshot(left);
            begin_termination();
        }
    }
    check_done();
}

void SuiteRun::on_deadline() {
    switch (phase_) {
        case Phase::Running:
            res_.timed_out = true;
            res_.timeout_snapshot = snapshot(box_->pids());
            if (!spec_.on_timeout.empty()) return start_hook();
            return begin_termination();
        case Phase::Hook:
            if (hook_pidfd_) ::syscall(SYS_pidfd_send_signal, hook_pidfd_.get(), SIGKILL, nullptr, 0);
            if (res_.on_timeout) res_.on_timeout->timed_out = true;
            return begin_termination();
        case Phase::Grace: {
            phase_ = Phase::Killing;
            res_.kill_signalled = box_->kill_all();
            return check_done();
        }
        case Phase::Killing:
        case Phase::Done:
            return;
    }
}

void SuiteRun::start_hook() {
    phase_ = Phase::Hook;
    res_.on_timeout = HookResult{};
    res_.on_timeout->argv = spec_.on_timeout;
    std::string pids;
    for (const auto& p : res_.timeout_snapshot) pids += (pids.empty() ? "" : " ") + std::to_string(p.pid);
    SpawnSpec sp;
    sp.argv = spec_.on_timeout;
    sp.env = build_env(false, {{"CORRAL_PIDS", pids}, {"CORRAL_SUITE", spec_.name}});
    sp.workdir = spec_.workdir;
    sp.stdout_fd = 2;  // the hook's output goes to corral's stderr, outside the suite's files
    sp.stderr_fd = 2;
    sp.new_cgroup_ns = false;
    sp.oom_score_adj = r_.opts.child_oom_score_adj;
    try {
        hook_pidfd_ = spawn_now(sp, hook_pid_);
    } catch (const Error& e) {
        res_.on_timeout->error = e.what();
        return begin_termination();
    }
    hook_t0_ = Clock::now();
    r_.watch(hook_pidfd_.get(), EPOLLIN, [this](std::uint32_t) { on_hook_exit(); }, watched_);
    deadline_->arm_once(spec_.on_timeout_limit);
}

void SuiteRun::on_hook_exit() {
    auto st = reap(hook_pidfd_.get());
    if (!st) return;
    unwatch(hook_pidfd_.get());
    hook_pidfd_.reset();
    hook_pid_ = -1;
    res_.on_timeout->exit_code = st->exit_code;
    res_.on_timeout->signal = st->signal;
    res_.on_timeout->duration_s = seconds_since(hook_t0_);
    if (st->exit_code == 127 && res_.on_timeout->error.empty())
        res_.on_timeout->error = "exit status 127: the command was probably not found";
    if (phase_ == Phase::Hook) begin_termination();
    check_done();
}

void SuiteRun::begin_termination() {
    if (phase_ == Phase::Grace || phase_ == Phase::Killing || phase_ == Phase::Done) return;
    phase_ = Phase::Grace;
    res_.term_signalled = box_->signal_all(SIGTERM);
    deadline_->arm_once(spec_.kill_grace);
    check_done();
}

void SuiteRun::interrupt() {
    if (phase_ == Phase::Done) return;
    res_.interrupted = true;
    if (phase_ == Phase::Running || phase_ == Phase::Hook) begin_termination();
}

void SuiteRun::kill_now() {
    if (phase_ == Phase::Done || !box_) return;
    phase_ = Phase::Killing;
    res_.kill_signalled = box_->kill_all();
    check_done();
}

void SuiteRun::check_done() {
    if (phase_ == Phase::Done || !main_done_ || hook_pidfd_) return;
    try {
        if (box_->populated()) return;
    } catch (const Error&) {
        // the box vanished: treat it as empty
    }
    finish();
}

bool SuiteRun::take_oom(const OomRecord& rec) {
    bool mine = box_name_.empty() ? pids_seen_.count(rec.victim_pid) > 0 : belongs_to_suite(rec, box_name_, pids_seen_);
    if (!mine) return false;
    WhoseLimit whose = box_name_.empty() ? (rec.global ? WhoseLimit::Host : WhoseLimit::Ancestor)
                                         : classify(rec, box_name_);
    OomKill k;
    k.victim_pid = rec.victim_pid;
    k.victim_comm = rec.victim_comm;
    k.whose = whose_limit_name(whose);
    k.oom_memcg = rec.oom_memcg;
    k.anon_rss_kb = rec.anon_rss_kb;
    k.victim_line = rec.victim_line;
    k.detail = oom_record_to_json(rec, whose, start_mono_s_, wall_clock_offset());
    res_.oom_records.push_back(std::move(k));
    if (phase_ == Phase::Done) finalize(res_);  // a record that came after the suite ended
    return true;
}

void SuiteRun::finish() {
    for (int fd : watched_) r_.loop.remove(fd);
    watched_.clear();
    r_.poll_oom();  // the kernel logs an OOM kill before its victim dies: the record is there now
    if (out_) out_->drain();
    if (err_) err_->drain();
    res_.duration_s = seconds_since(t0_);
    if (box_) {
        try {
            BoxCounters c = box_->counters();
            res_.peak_bytes = c.peak_bytes;
            res_.peak_source = c.peak_source;
            res_.oom_kills = c.oom_kills;
            res_.memory_failcnt = c.memory_failcnt;
            res_.tasks_limit_hits = c.tasks_limit_hits;
            res_.cpu_usage_us = c.cpu_usage_us;
            res_.cpu_throttled_us = c.cpu_throttled_us;
            res_.cpu_nr_throttled = c.cpu_nr_throttled;
            res_.memory_events = std::move(c.memory_events);
            res_.memory_events_local = std::move(c.memory_events_local);
            res_.pids_events = std::move(c.pids_events);
            res_.cpu_stat = std::move(c.cpu_stat);
            res_.systemd = std::move(c.manager_view);
            for (auto& n : box_->notes())  // remarks made while measuring
                if (std::find(res_.notes.begin(), res_.notes.end(), n) == res_.notes.end()) res_.notes.push_back(n);
        } catch (const Error& e) {
            res_.notes.push_back(std::string("reading the box's counters failed: ") + e.what());
        }
        box_.reset();  // ends anything left and removes the cgroups
    }
    if (!res_.peak_bytes && !res_.samples.empty()) {
        for (const auto& s : res_.samples) res_.peak_bytes = std::max(res_.peak_bytes.value_or(0), s.bytes);
        res_.peak_source = "maximum of samples";
    }
    phase_ = Phase::Done;
    finalize(res_);
}

SuiteRun::~SuiteRun() {
    for (int fd : watched_) r_.loop.remove(fd);
}

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

}  // namespace

RunOutcome run_suites(Backend& backend, const std::vector<SuiteSpec>& suites, const RunOptions& opts) {
    RunOutcome outcome;
    auto& results = outcome.results;
    bool& interrupted = outcome.interrupted;
    results.resize(suites.size());
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
