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
#include "corral/base/proc_stat.hpp"
#include "corral/box/fault.hpp"
#include "corral/oom/oom_watch.hpp"
#include "corral/run/procinfo.hpp"

namespace corral {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kLeftBehindListed = 5;
// A box that will not go (a cgroup still busy, a unit still loaded) is left for a later run after this.
constexpr Duration kReleaseLimit = std::chrono::seconds(10);


}  // namespace

// ---- Runner -----------------------------------------------------------------------------------

Runner::Runner(Backend& backend, const RunOptions& opts) : backend(backend), opts(opts), live_out(1), live_err(2) {}

void Runner::watch(int fd, std::uint32_t events, EventLoop::Handler h, std::vector<int>& owned) {
    loop.add(fd, events, std::move(h));
    owned.push_back(fd);
}

void Runner::say(const std::string& line) { live_err.write("corral: " + line + "\n"); }

// ---- SuiteRun: set-up and errors ----------------------------------------------------------------

SuiteRun::SuiteRun(Runner& runner, const SuiteSpec& spec, SuiteResult& result)
    : r_(runner), spec_(spec), res_(result) {}

SuiteRun::~SuiteRun() { unwatch_all(); }

void SuiteRun::note(const std::string& n) {
    if (std::find(res_.notes.begin(), res_.notes.end(), n) == res_.notes.end()) res_.notes.push_back(n);
}

// The suite ends here, whatever it was doing: what is known stays, the error is in its notes (or is
// its launch error when it never ran), its tree gets a SIGKILL, and the run goes on.
void SuiteRun::fail(const std::string& what, const std::string& error) {
    if (phase_ == Phase::Done) return;
    if (failing_) {  // an error while ending after an error: give up on the box
        note(fmt::format("corral failed again while {}: {}", what, error));
        r_.boxes_left = r_.boxes_left || box_ != nullptr;
        box_.reset();
        close_ci_group();
        phase_ = Phase::Done;
        finalize(res_);
        return;
    }
    failing_ = true;
    if (phase_ == Phase::Entering) {  // it never ran: that is its verdict, said in the summary
        if (res_.launch_error.empty()) res_.launch_error = fmt::format("{}: {}", what, error);
    } else {
        r_.say(fmt::format("error: suite '{}': {}: {}; the suite ends here, the others go on", spec_.name, what, error));
        note(fmt::format("corral failed while {}: {}; it ended the suite there", what, error));
    }
    held_.reset();  // a child never released is killed and reaped
    if (hook_pidfd_) signal_hook(SIGKILL);
    if (box_ && pid_ > 0) {
        try {
            box_->kill_round();
        } catch (const std::exception& e) {
            note(std::string("and could not kill the suite's tree: ") + e.what());
        }
    }
    // Reap what can be reaped now; a main process still alive is not waited for.
    if (pidfd_ && !main_done_) {
        try {
            if (auto st = reap(pidfd_.get())) {
                main_done_ = true;
                res_.exit_code = st->exit_code;
                res_.signal = st->signal;
            }
        } catch (const Error&) {
        }
    }
    finish();
}

// ---- start ------------------------------------------------------------------------------------

void SuiteRun::start() {
    res_.name = spec_.name;
    res_.command = spec_.command_text.empty() ? join_argv(spec_.argv) : spec_.command_text;
    res_.limits = spec_.limits;
    res_.timeout = spec_.timeout;
    res_.stall_timeout = spec_.stall_timeout;
    res_.kill_grace = spec_.kill_grace;
    t0_ = phase_since_ = Clock::now();
    started_ = true;
    open_ci_group();
    start_mono_s_ = monotonic_now_s();
    guarded("starting the suite", [&] {
        backend_ = &r_.backend;
        if (r_.opts.pick) {
            std::string error;
            backend_ = r_.opts.pick(spec_, res_.backend_reason, error);
            if (!backend_) throw Error(error);
        } else if (spec_.backend == BackendChoice::SystemdScope && r_.backend.name() != "systemd-scope") {
            throw Error("backend systemd-scope was asked for, but this run uses " + r_.backend.name());
        }
        res_.backend = backend_->name();
        UniqueFd out_r, out_w, err_r, err_w;
        with_context("preparing the suite's box", [&] {
            box_ = with_injected_faults(backend_->create_box(spec_.name), spec_.name);
            res_.boxed = box_->enforced();
            if (res_.boxed) box_name_ = box_->cgroup_name();
            res_.cgroup = box_->describe();
            res_.kill_method = box_->kill_method();
            box_->apply_limits(spec_.limits);
            res_.notes = box_->notes();
            for (auto [r, w] : {std::pair{&out_r, &out_w}, std::pair{&err_r, &err_w}}) {
                int fds[2];
                if (::pipe2(fds, O_CLOEXEC) < 0) throw_errno("pipe2");
                r->reset(fds[0]);
                w->reset(fds[1]);
            }
            out_.emplace(make_stream(std::move(out_r), "stdout", r_.live_out));
            err_.emplace(make_stream(std::move(err_r), "stderr", r_.live_err));
        });
        markers_.emplace(spec_.markers);
        attribution_id_ = r_.attribution.add_suite(box_name_, start_mono_s_, to_seconds(spec_.sample_interval));
        log_oom_counters(0, 0, 0, start_mono_s_);  // a new box counts from zero

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
        if (!no_cgroupns_why.empty()) note(no_cgroupns_why);
        with_context("starting the suite in its box", [&] {
            held_.emplace(spawn_held(sp, box_->cgroup_fd()));
            pid_ = held_->pid();
            if (held_->in_cgroup()) {
                res_.start_method = "clone3-into-cgroup";
                launch();
            } else if (box_->enter(pid_)) {
                res_.start_method = box_->entry_method();
                launch();
            } else {
                // The box needs time (a systemd job): the backend's events or the step timer go on.
                step_timer_.emplace();
                step_timer_->arm_periodic(Box::enter_poll());
                r_.watch(step_timer_->fd(), EPOLLIN, [this](std::uint32_t) { on_step_timer(); }, watched_);
            }
        });
    });
}

void SuiteRun::try_enter() {
    guarded("starting the suite in its box", [&] {
        if (!box_->enter_done()) return;
        res_.start_method = box_->entry_method();
        unwatch(step_timer_->fd());
        step_timer_.reset();
        launch();
    });
}

// The child is in its box: let it exec, and watch everything.
void SuiteRun::launch() {
    res_.cgroup = box_->describe();  // a systemd scope knows its cgroup only once it runs
    for (auto& n : box_->notes()) note(n);
    pidfd_ = held_->take_pidfd();
    t0_ = Clock::now();
    exec_.emplace(held_->go());
    held_.reset();  // released: its destructor no longer kills it
    phase_ = Phase::Running;
    r_.attribution.seen(*attribution_id_, pid_, 0, monotonic_now_s());
    if (r_.progress)
        r_.progress->suite_started(spec_.name, spec_.timeout ? std::optional(to_seconds(*spec_.timeout)) : std::nullopt,
                                   has_memory_max(spec_.limits) ? spec_.limits.memory_max : std::nullopt);

    r_.watch(exec_->fd(), EPOLLIN, [this](std::uint32_t) { on_exec_pipe(); }, watched_);
    watch_stream(*out_);
    watch_stream(*err_);
    r_.watch(pidfd_.get(), EPOLLIN, [this](std::uint32_t) { guarded("reaping the suite's main process", [&] { on_main_exit(); }); },
             watched_);
    if (int pfd = box_->populated_fd(); pfd >= 0)
        r_.watch(pfd, EPOLLPRI, [this](std::uint32_t) {
            guarded("watching the suite's box", [&] {
                box_->populated();  // reading through the fd re-arms its notification
                check_done();
            });
        }, watched_);
    sample_timer_.emplace();
    sample_timer_->arm_periodic(spec_.sample_interval);
    r_.watch(sample_timer_->fd(), EPOLLIN, [this](std::uint32_t) {
        if (!sample_timer_->consume()) return;
        on_sample();
        guarded("ending the suite's tree", [&] { check_stall(); });
        // Without cgroup.events (unboxed) the samples are what notices an empty box.
        if (box_ && box_->populated_fd() < 0) guarded("watching the suite's box", [&] { check_done(); });
    }, watched_);
    deadline_.emplace();
    if (spec_.timeout) deadline_->arm_once(*spec_.timeout);
    r_.watch(deadline_->fd(), EPOLLIN, [this](std::uint32_t) {
        if (deadline_->consume()) guarded("ending the suite's tree", [&] { on_deadline(); });
    }, watched_);
}

void SuiteRun::on_exec_pipe() {
    if (!exec_ || !exec_->pump()) return;
    // End of the pipe: exec happened, or the child wrote what failed and exits 127.
    const bool execd = exec_->error().empty();
    if (!execd && res_.launch_error.empty()) res_.launch_error = exec_->error();
    unwatch(exec_->fd());  // before the fd is closed and its number reused
    exec_.reset();
    if (execd) on_sample();  // the first sample: the suite's program, not corral's child before its exec
    guarded("watching the suite's box", [&] { check_done(); });
}

void SuiteRun::on_backend_event(Backend* backend) {
    if (backend != backend_) return;
    if (phase_ == Phase::Entering && step_timer_) try_enter();
    if (phase_ == Phase::Releasing) release_step();
}

void SuiteRun::on_step_timer() {
    if (!step_timer_ || !step_timer_->consume()) return;
    switch (phase_) {
        case Phase::Entering:
            return try_enter();
        case Phase::Killing:
            return kill_round();
        case Phase::Releasing:
            return release_step();
        default:
            return;
    }
}

// ---- running ----------------------------------------------------------------------------------

void SuiteRun::on_sample() {
    if (phase_ == Phase::Done || phase_ == Phase::Releasing || !box_) return;
    try {
        const double now_mono = monotonic_now_s();
        std::set<pid_t> pids;
        for (pid_t p : box_->pids()) {
            pids.insert(p);
            // A new process in the box (or a pid back as another process): its identity for the OOM
            // attribution is (pid, start time).
            std::uint64_t start_ticks = 0;
            if (!last_pids_.count(p)) {
                try {
                    if (auto st = parse_proc_stat(read_file_if_exists(fmt::format("/proc/{}/stat", p)).value_or("")))
                        start_ticks = st->start_ticks;
                } catch (const Error&) {
                    // gone since the box listed it (ESRCH): the sample goes on without it
                }
            }
            r_.attribution.seen(*attribution_id_, p, start_ticks, now_mono);
        }
        last_pids_ = std::move(pids);
        BoxSample s = box_->sample();
        double t = seconds_since(t0_);
        stall_.cpu(t, s.cpu_usage_us);
        if (box_->enforced()) {
            memory_now_ = s.memory_bytes;
            record_memory(t, s.memory_bytes);
            peak_processes_.on_sample(s.memory_bytes, t, last_pids_, res_);  // at a peak 5 % above the last read
        }
        if (s.pressure) {
            s.pressure->t_s = t;
            res_.pressure.append(*s.pressure);
        }
        OomCounters oc = box_->enforced() ? box_->oom_counters_now() : OomCounters{};
        const std::uint64_t kills = oc.kills;
        if (box_->enforced()) {
            oom_own_source_ = oc.own_source;
            log_oom_counters(oc.kills, oc.own_limit_hits, s.memory_bytes, monotonic_now_s());
        }
        if (kills > oom_kills_seen_) {
            oom_kills_seen_ = kills;
            res_.samples.mark_oom(t);  // keeps the samples around the kill
            if (!first_kill_s_) {  // until a kernel record says when exactly: the line at the sample before
                first_kill_s_ = prev_sample_mono_s_;
                const auto at = lines_.at(prev_sample_mono_s_);
                res_.line_at_first_kill = at.known ? at.text : "";
                res_.printed_before_first_kill = at.known;
            }
        }
        if (!r_.pending_headerless.empty()) r_.claim_pending();
        prev_sample_mono_s_ = monotonic_now_s();
        if (spec_.limits.oom_group && !oom_group_done_ && phase_ == Phase::Running && box_->enforced() &&
            !box_->oom_group_native() && kills > 0) {
            oom_group_done_ = true;
            res_.oom_group_killed = true;
            if (!res_.sigkill_at_s) res_.sigkill_at_s = seconds_since(t0_);
            KillRound k = box_->kill_round();
            for (auto& n : k.notes) note(n);
            note(fmt::format(
                "memory.oom_group (emulated): corral killed the suite's remaining {} after its OOM kill at t={}",
                k.signalled == 1 ? std::string("process") : fmt::format("{} processes", k.signalled), format_seconds(t)));
            if (k.again) begin_kill();  // more rounds (freeze-and-signal) until the tree is gone
        }
    } catch (const Error& e) {
        // A sample can fail while the tree ends (a process gone between reading its pid and its
        // files); say the first such failure, keep sampling.
        if (!sample_error_noted_) {
            sample_error_noted_ = true;
            note(fmt::format("a memory sample failed at t={} (later ones went on): {}", format_seconds(seconds_since(t0_)),
                             e.what()));
        }
    }
}

void SuiteRun::record_memory(double t, std::uint64_t bytes) {
    if (res_.samples.append(t, bytes, res_.last_line)) {  // a new peak
        PeakSample peak{t, bytes, std::nullopt, std::nullopt, res_.samples.peak()->last_line};
        if (auto split = box_->memory_split()) {
            peak.anon_bytes = split->anon_bytes;
            peak.file_bytes = split->file_bytes;
        }
        res_.peak_sample = peak;
    }
    growth_.sample(t, bytes);
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
        std::erase_if(left, dying);  // an OOM victim being reaped, the rest of a group kill
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
            res_.timeout_at_s = seconds_since(t0_);
            res_.timeout_snapshot = snapshot(box_->pids());
            if (!spec_.on_timeout.empty()) return start_hook();
            return begin_termination();
        case Phase::Grace:
            return begin_kill();
        default:
            return;
    }
}

// ---- ending the tree ----------------------------------------------------------------------------

void SuiteRun::begin_termination() {
    if (phase_ != Phase::Running && phase_ != Phase::Hook) return;
    phase_ = Phase::Grace;
    grace_started_s_ = seconds_since(t0_);
    res_.term_signalled = box_->signal_all(SIGTERM);
    deadline_->arm_once(spec_.kill_grace);
    check_done();
}

void SuiteRun::begin_kill() {
    if (phase_ == Phase::Killing || phase_ == Phase::Releasing || phase_ == Phase::Done) return;
    phase_ = Phase::Killing;
    if (!res_.sigkill_at_s) res_.sigkill_at_s = seconds_since(t0_);
    deadline_->disarm();
    if (!step_timer_) {
        step_timer_.emplace();
        r_.watch(step_timer_->fd(), EPOLLIN, [this](std::uint32_t) { guarded("ending the suite's tree", [&] { on_step_timer(); }); },
                 watched_);
    }
    kill_round();
}

void SuiteRun::kill_round() {
    if (phase_ != Phase::Killing) return;
    KillRound k = box_->kill_round();
    res_.kill_signalled = std::max(res_.kill_signalled, k.signalled);
    for (auto& n : k.notes) note(n);
    if (k.again) step_timer_->arm_once(*k.again);
    check_done();
}

void SuiteRun::interrupt() {
    if (phase_ == Phase::Done || phase_ == Phase::Releasing) return;
    res_.interrupted = true;
    guarded("ending the suite's tree", [&] {
        if (phase_ == Phase::Entering) throw Error("corral was interrupted before the suite started");
        if (phase_ == Phase::Hook) signal_hook(SIGTERM);  // its own limit still holds
        begin_termination();
    });
}

void SuiteRun::kill_now() {
    if (phase_ == Phase::Done || phase_ == Phase::Releasing) return;
    res_.interrupted = true;
    guarded("ending the suite's tree", [&] {
        if (phase_ == Phase::Entering) throw Error("corral was interrupted before the suite started");
        if (hook_pidfd_) {
            signal_hook(SIGKILL);
            if (res_.on_timeout) res_.on_timeout->error = "killed by corral's second interrupt";
        }
        if (phase_ == Phase::Grace) res_.grace_cut_s = seconds_since(t0_) - grace_started_s_;
        begin_kill();
    });
}

// ---- the end ------------------------------------------------------------------------------------

void SuiteRun::check_done() {
    if (phase_ == Phase::Entering || phase_ == Phase::Releasing || phase_ == Phase::Done) return;
    if (!main_done_ || hook_pidfd_ || exec_) return;
    if (box_->populated()) return;
    finish();
}

void SuiteRun::finish() {
    if (phase_ == Phase::Releasing || phase_ == Phase::Done) return;
    unwatch_all();
    sample_timer_.reset();
    deadline_.reset();
    hook_deadline_.reset();
    step_timer_.reset();
    r_.poll_oom();  // the kernel logs an OOM kill before its victim dies: the record is there now
    if (out_) out_->drain();
    if (err_) err_->drain();
    close_ci_group();
    for (const auto* s : {&out_, &err_})
        if (*s) {
            res_.live_output_dropped += (*s)->dropped_live();
            if (auto e = (*s)->file_error(); !e.empty()) note(e);
        }
    if (box_) {
        try {
            BoxCounters c = box_->counters();
            // Without a peak counter (v2 before 5.19) the peak comes from the samples: one more now, or
            // a suite shorter than one interval has only its t=0 sample.
            if (!c.peak_bytes && pid_ > 0 && !failing_) on_sample();
            res_.peak_bytes = c.peak_bytes;
            res_.peak_source = c.peak_source;
            res_.oom_kills = c.oom_kills;
            res_.memory_failcnt = c.memory_failcnt;
            res_.tasks_limit_hits = c.tasks_limit_hits;
            res_.cpu_usage_us = c.cpu_usage_us;
            res_.cpu_throttled_us = c.cpu_throttled_us;
            res_.cpu_nr_throttled = c.cpu_nr_throttled;
            if (auto g = c.memory_events.find("oom_group_kill"); g != c.memory_events.end() && g->second > 0)
                res_.oom_group_killed = true;
            res_.memory_events = std::move(c.memory_events);
            res_.memory_events_local = std::move(c.memory_events_local);
            res_.pids_events = std::move(c.pids_events);
            res_.cpu_stat = std::move(c.cpu_stat);
            res_.systemd = std::move(c.manager_view);
            for (auto& n : box_->notes()) note(n);  // remarks made while measuring
        } catch (const Error& e) {
            note(std::string("reading the box's counters failed: ") + e.what());
        }
        try {  // the counters after the last kill, for the records without their header
            if (box_->enforced()) {
                OomCounters oc = box_->oom_counters_now();
                log_oom_counters(oc.kills, oc.own_limit_hits, 0, monotonic_now_s());
            }
        } catch (const Error&) {
            // gone with the box (a scope's cgroup): the samples' counters are what is known
        }
        // Where the kernel (memory.oom.group) or the manager (OOMPolicy=kill) ends the whole box at
        // any OOM kill in it, one OOM kill was a group kill, even when the counters that would say so
        // went with the box (a scope's cgroup is removed as soon as it is empty).
        if (spec_.limits.oom_group && box_->enforced() && box_->oom_group_native() && oom_kill_count(res_) > 0)
            res_.oom_group_killed = true;
    }
    res_.duration_s = seconds_since(t0_);
    if (!res_.peak_bytes && !res_.samples.empty()) {
        res_.peak_bytes = res_.samples.max_bytes();
        res_.peak_source = "maximum of samples";
    }
    // Without memory.peak (v2 before 5.19) samples miss a short spike; memory.events says whether the
    // usage reached memory.max, and then that was the peak.
    if (res_.peak_source == "maximum of samples" && has_memory_max(res_.limits) &&
        res_.memory_events.count("max") && res_.memory_events.at("max") > 0 &&
        res_.peak_bytes.value_or(0) < *res_.limits.memory_max) {
        res_.peak_bytes = *res_.limits.memory_max;
        res_.peak_source = "memory.max, reached (memory.events max)";
    }
    end_mono_s_ = monotonic_now_s();
    if (attribution_id_) r_.attribution.suite_ended(*attribution_id_, *end_mono_s_);
    if (res_.boxed && !res_.samples.empty()) {
        GrowthContext ctx;
        if (has_memory_max(res_.limits)) ctx.memory_max = res_.limits.memory_max;
        ctx.thrashing = res_.pressure.summary().thrashing;
        ctx.duration_s = res_.duration_s;
        res_.growth = growth_.finish(ctx);
    }
    r_.claim_pending();
    resolve_headerless();
    finalize(res_);
    if (r_.progress) r_.progress->suite_ended(res_);
    // Let the box go (remove its cgroups, unload its unit) from the loop.
    phase_ = Phase::Releasing;
    phase_since_ = Clock::now();
    if (!box_) {
        phase_ = Phase::Done;
        return;
    }
    step_timer_.emplace();
    r_.watch(step_timer_->fd(), EPOLLIN, [this](std::uint32_t) { on_step_timer(); }, watched_);
    release_step();
}

void SuiteRun::release_step() {
    if (phase_ != Phase::Releasing) return;
    std::optional<Duration> again;
    try {
        again = box_->release();
    } catch (const std::exception& e) {
        note(fmt::format("its box could not be removed: {}; a later run removes it", e.what()));
        r_.boxes_left = true;
    }
    if (again && Clock::now() - phase_since_ > kReleaseLimit) {
        note(fmt::format("its box was still there {} after the suite ended; a later run removes it",
                         format_duration(kReleaseLimit)));
        r_.boxes_left = true;
        again.reset();
    }
    if (again) {
        step_timer_->arm_once(*again);
        return;
    }
    unwatch_all();
    step_timer_.reset();
    box_.reset();  // released (or given up on: the destructor does not wait)
    phase_ = Phase::Done;
    finalize(res_);  // notes made while releasing
}

// ---- output -------------------------------------------------------------------------------------

void SuiteRun::unwatch(int fd) {
    r_.loop.remove(fd);
    std::erase(watched_, fd);
}

void SuiteRun::unwatch_all() {
    for (int fd : watched_) r_.loop.remove(fd);
    watched_.clear();
}

}  // namespace corral
