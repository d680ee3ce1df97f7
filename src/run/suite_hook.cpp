// A suite's on_timeout hook: its own process group and its own time limit.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/run/suite_run.hpp"

namespace corral {

// ---- the on_timeout hook: its own process group and its own time limit --------------------------

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
        hook_pidfd_ = spawn_now(sp, hook_pid_);  // setsid: the hook leads a process group of its own
    } catch (const Error& e) {
        res_.on_timeout->error = e.what();
        return begin_termination();
    }
    hook_t0_ = std::chrono::steady_clock::now();
    r_.watch(hook_pidfd_.get(), EPOLLIN, [this](std::uint32_t) { guarded("reaping the on_timeout hook", [&] { on_hook_exit(); }); },
             watched_);
    // The hook's limit is its own: an interrupt or the suite's grace never moves it.
    hook_deadline_.emplace();
    hook_deadline_->arm_once(spec_.on_timeout_limit);
    r_.watch(hook_deadline_->fd(), EPOLLIN, [this](std::uint32_t) {
        if (hook_deadline_->consume()) guarded("ending the on_timeout hook", [&] { on_hook_deadline(); });
    }, watched_);
}

// To the hook's whole process group (what it started too). The group outlives a reaped leader only
// while a member lives, so its id cannot be another's while we signal it; once the hook is reaped
// and its group empty, nothing is sent.
void SuiteRun::signal_hook(int sig) {
    if (hook_pid_ > 0) ::kill(-hook_pid_, sig);
}

void SuiteRun::on_hook_deadline() {
    if (!hook_pidfd_) return;
    if (res_.on_timeout) res_.on_timeout->timed_out = true;
    signal_hook(SIGKILL);
    if (phase_ == Phase::Hook) begin_termination();
}

void SuiteRun::on_hook_exit() {
    auto st = reap(hook_pidfd_.get());
    if (!st) return;
    unwatch(hook_pidfd_.get());
    hook_pidfd_.reset();
    signal_hook(SIGKILL);  // what the hook left running in its group goes with it
    hook_pid_ = -1;
    if (hook_deadline_) {
        unwatch(hook_deadline_->fd());
        hook_deadline_.reset();
    }
    res_.on_timeout->exit_code = st->exit_code;
    res_.on_timeout->signal = st->signal;
    res_.on_timeout->duration_s = seconds_since(hook_t0_);
    if (st->exit_code == 127 && res_.on_timeout->error.empty())
        res_.on_timeout->error = "exit status 127: the command was probably not found";
    if (phase_ == Phase::Hook) begin_termination();
    check_done();
}

}  // namespace corral
