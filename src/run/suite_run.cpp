#include "corral/run/suite_run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/oom/oom_watch.hpp"
#include "corral/run/procinfo.hpp"
#include "corral/run/spawn.hpp"

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

}  // namespace

void Runner::poll_oom() {
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

void Runner::watch(int fd, std::uint32_t events, EventLoop::Handler h, std::vector<int>& owned) {
    loop.add(fd, events, std::move(h));
    owned.push_back(fd);
}

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
            if (res_.samples.append(t, s.memory_bytes, res_.last_line)) {  // a new peak
                PeakSample peak{t, s.memory_bytes, std::nullopt, std::nullopt,
                                res_.samples.peak()->last_line};
                if (auto split = box_->memory_split()) {
                    peak.anon_bytes = split->anon_bytes;
                    peak.file_bytes = split->file_bytes;
                }
                res_.peak_sample = peak;
            }
        }
        if (s.pressure) {
            s.pressure->t_s = t;
            res_.pressure.append(*s.pressure);
        }
        std::uint64_t kills = box_->enforced() ? box_->oom_kills_now() : 0;
        if (kills > oom_kills_seen_) {
            oom_kills_seen_ = kills;
            res_.samples.mark_oom(t);  // keeps the samples around the kill
        }
        if (spec_.limits.oom_group && !oom_group_done_ && phase_ == Phase::Running && box_->enforced() &&
            !box_->oom_group_native() && kills > 0) {
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
        res_.peak_bytes = res_.samples.max_bytes();
        res_.peak_source = "maximum of samples";
    }
    phase_ = Phase::Done;
    finalize(res_);
}

SuiteRun::~SuiteRun() {
    for (int fd : watched_) r_.loop.remove(fd);
}

}  // namespace corral
