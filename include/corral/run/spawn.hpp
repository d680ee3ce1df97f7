// Starting a suite's main process: forked, held on a sync pipe until it is in its box, then
// released into a new cgroup namespace and exec'd.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corral/base/fd.hpp"

namespace corral {

struct SpawnSpec {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // "K=V", the complete environment
    std::optional<std::string> workdir;
    int stdout_fd = -1;  // write ends for the child's stdout/stderr (stdin is /dev/null)
    int stderr_fd = -1;
    bool new_cgroup_ns = true;
    std::string oom_score_adj;  // written to /proc/self/oom_score_adj before exec ("" = inherit)
};

// Makes the launcher an unlikely OOM victim (it must outlive a suite's OOM to write the report):
// lowers /proc/self/oom_score_adj and returns the previous value, for children to restore.
// Returns "" when it could not be changed (no CAP_SYS_RESOURCE), with the reason in `why`:
// children then inherit as usual.
std::string protect_launcher_from_oom(std::string& why);

// Builds the environment: the launcher's own unless env_clear, then `extra` on top.
std::vector<std::string> build_env(bool env_clear, const std::map<std::string, std::string>& extra);

// A child held before exec. Destroying a HeldChild that was never released kills and reaps it.
class HeldChild {
public:
    HeldChild(pid_t pid, UniqueFd pidfd, UniqueFd go, UniqueFd err, bool in_cgroup) noexcept
        : pid_(pid), pidfd_(std::move(pidfd)), go_(std::move(go)), err_(std::move(err)), in_cgroup_(in_cgroup) {}
    HeldChild(HeldChild&& o) noexcept
        : pid_(std::exchange(o.pid_, -1)), pidfd_(std::move(o.pidfd_)), go_(std::move(o.go_)),
          err_(std::move(o.err_)), in_cgroup_(o.in_cgroup_), released_(o.released_) {}
    HeldChild& operator=(HeldChild&&) = delete;
    ~HeldChild();

    pid_t pid() const noexcept { return pid_; }
    // Started by clone3(CLONE_INTO_CGROUP): already in its box.
    bool in_cgroup() const noexcept { return in_cgroup_; }
    // Lets the child go on to unshare/chdir/exec, without waiting for it: returns what tells how
    // exec went (ExecWatch). Throws SysError when the child cannot be told (it died).
    class ExecWatch go();
    // Hands over the pidfd (valid after release as well).
    UniqueFd take_pidfd() noexcept { return std::move(pidfd_); }

private:
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    UniqueFd go_;
    UniqueFd err_;
    bool in_cgroup_ = false;
    bool released_ = false;
};

// How the exec of a released child went, read from its error pipe without blocking: the pipe closes
// on a successful exec (close-on-exec); a failure writes what failed, and the child exits 127.
class ExecWatch {
public:
    explicit ExecWatch(UniqueFd err) : fd_(std::move(err)) {}
    int fd() const noexcept { return fd_.get(); }
    // Reads what is there; true once the outcome is known (the pipe's end: error() is final).
    bool pump();
    // "" when exec succeeded, else what failed ("execvp 'foo': No such file or directory").
    const std::string& error() const noexcept { return error_; }

private:
    UniqueFd fd_;
    std::string error_;
    bool ended_ = false;
};

// Forks the child (new session, signals reset, stdin /dev/null) and holds it. Throws SysError.
// With cgroup_fd >= 0 the child is started by clone3(CLONE_INTO_CGROUP) directly in that cgroup
// (Linux 5.7+); where the kernel lacks it (ENOSYS, E2BIG, EINVAL) it falls back to fork, and
// in_cgroup() is false: the caller then moves the child with cgroup.procs.
HeldChild spawn_held(const SpawnSpec& spec, int cgroup_fd = -1);

// Whether this process may create a cgroup namespace: unshare(CLONE_NEWCGROUP) needs CAP_SYS_ADMIN
// in its user namespace, which an unprivileged user (a workstation run through the user manager)
// does not have. When it may not, returns false with the reason in `why`, a sentence for the
// report's notes. Read once from /proc/self/status (CapEff).
bool cgroup_namespace_allowed(std::string& why);

// The capability check on the text of /proc/PID/status: whether CapEff has CAP_SYS_ADMIN (bit 21).
// nullopt when the text has no parsable CapEff line.
std::optional<bool> status_has_cap_sys_admin(const std::string& status_text);

// Whether clone3(CLONE_INTO_CGROUP) is known not to work on this kernel (after a fallback).
bool clone_into_cgroup_unsupported();

// Starts a plain child right away (hooks): same set-up without holding or a cgroup namespace.
// Returns the pidfd; pid_out receives the pid. Throws SysError; exec failure makes the child exit 127.
UniqueFd spawn_now(const SpawnSpec& spec, pid_t& pid_out);

// Exit status of a pidfd child (waitid P_PIDFD); nullopt while it still runs.
struct ExitStatus {
    std::optional<int> exit_code;
    std::optional<int> signal;
};
std::optional<ExitStatus> reap(int pidfd);

}  // namespace corral
