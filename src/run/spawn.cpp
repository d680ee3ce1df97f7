#include "corral/run/spawn.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/box/cgroup_util.hpp"

extern char** environ;

namespace corral {

std::vector<std::string> build_env(bool env_clear, const std::map<std::string, std::string>& extra) {
    std::map<std::string, std::string> env;
    if (!env_clear) {
        for (char** e = environ; *e; ++e) {
            std::string kv = *e;
            auto eq = kv.find('=');
            if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
    }
    for (const auto& [k, v] : extra) env[k] = v;
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

std::optional<bool> status_has_cap_sys_admin(const std::string& status_text) {
    constexpr unsigned kCapSysAdmin = 21;  // linux/capability.h
    std::size_t at = 0;
    while (at < status_text.size()) {
        std::size_t end = status_text.find('\n', at);
        if (end == std::string::npos) end = status_text.size();
        std::string_view line(status_text.data() + at, end - at);
        at = end + 1;
        if (!line.starts_with("CapEff:")) continue;
        line.remove_prefix(7);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty() || line.size() > 16) return std::nullopt;
        std::uint64_t caps = 0;
        auto [end_of_hex, ec] = std::from_chars(line.data(), line.data() + line.size(), caps, 16);
        if (ec != std::errc{} || end_of_hex != line.data() + line.size()) return std::nullopt;
        return (caps >> kCapSysAdmin & 1) != 0;
    }
    return std::nullopt;
}

bool cgroup_namespace_allowed(std::string& why) {
    static const std::pair<bool, std::string> answer = [] {
        std::optional<bool> has;
        std::string status;
        try {
            status = read_file("/proc/self/status");
            has = status_has_cap_sys_admin(status);
        } catch (const Error&) {
        }
        if (has.value_or(true)) return std::pair<bool, std::string>{true, ""};  // unknown: try, report what fails
        return std::pair<bool, std::string>{
            false, "no cgroup namespace: creating one needs CAP_SYS_ADMIN, which corral (uid " +
                       std::to_string(::getuid()) +
                       ") does not have, so the suite sees its cgroup by its full path in /proc/self/cgroup"};
    }();
    why = answer.second;
    return answer.first;
}

namespace {

// Reports a failure from the child over the error pipe and exits. Only async-signal-safe calls.
[[noreturn]] void child_fail(int errfd, const char* what, const char* arg) {
    int err = errno;
    char buf[512];
    size_t n = 0;
    auto put = [&](const char* s) {
        while (*s && n < sizeof buf - 1) buf[n++] = *s++;
    };
    put(what);
    if (arg) {
        put(" '");
        put(arg);
        put("'");
    }
    put(": ");
    put(strerrordesc_np(err) ? strerrordesc_np(err) : "unknown error");
    if (errfd >= 0) (void)!::write(errfd, buf, n);
    _exit(127);
}

// In the child: marks every fd above 2 close-on-exec (Linux 5.11: close_range CLOSE_RANGE_CLOEXEC), or
// closes them all but keep (5.9: close_range), or walks them one by one (older kernels).
void close_from_3_on_exec(int keep) {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    if (keep < 3) {
        if (::close_range(3, ~0U, 0) == 0) return;
    } else if ((keep == 3 || ::close_range(3, static_cast<unsigned>(keep) - 1, 0) == 0) &&
               ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0) == 0) {
        return;
    }
    rlimit rl{};
    long max = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? static_cast<long>(rl.rlim_cur) : 65536;
    for (int fd = 3; fd < max; ++fd)
        if (fd != keep) ::close(fd);
}

// In the child: everything between fork and exec.
[[noreturn]] void child_main(const SpawnSpec& spec, char* const* argv, char* const* envp, int gofd, int errfd) {
    // The parent blocks signals for its signalfd; the suite starts with a clean slate.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);

    if (gofd >= 0) {
        char c;
        ssize_t n;
        do {
            n = ::read(gofd, &c, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(126);  // the launcher gave up on us
    }
    if (!spec.oom_score_adj.empty()) {
        int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, spec.oom_score_adj.data(), spec.oom_score_adj.size()) < 0)
            child_fail(errfd, "write /proc/self/oom_score_adj =", spec.oom_score_adj.c_str());
        ::close(fd);
    }
    if (spec.new_cgroup_ns && ::unshare(CLONE_NEWCGROUP) < 0) child_fail(errfd, "unshare(CLONE_NEWCGROUP)", nullptr);
    if (::setsid() < 0) child_fail(errfd, "setsid", nullptr);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) child_fail(errfd, "open", "/dev/null");
    if (::dup2(devnull, 0) < 0) child_fail(errfd, "dup2 stdin", nullptr);
    if (spec.stdout_fd >= 0 && ::dup2(spec.stdout_fd, 1) < 0) child_fail(errfd, "dup2 stdout", nullptr);
    if (spec.stderr_fd >= 0 && ::dup2(spec.stderr_fd, 2) < 0) child_fail(errfd, "dup2 stderr", nullptr);
    // Nothing but 0, 1 and 2 passes into the suite: not corral's own fds, not what corral's caller
    // leaked into it. Close-on-exec rather than closed, so that errfd still reports a failed exec.
    close_from_3_on_exec(errfd);
    if (spec.workdir && ::chdir(spec.workdir->c_str()) < 0) child_fail(errfd, "chdir", spec.workdir->c_str());
    environ = const_cast<char**>(envp);
    ::execvp(argv[0], argv);
    child_fail(errfd, "execvp", argv[0]);
}

struct CStrings {
    explicit CStrings(const std::vector<std::string>& v) {
        for (const auto& s : v) ptrs.push_back(const_cast<char*>(s.c_str()));
        ptrs.push_back(nullptr);
    }
    std::vector<char*> ptrs;
};

UniqueFd pidfd_of(pid_t pid) {
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!fd) throw_errno("pidfd_open " + std::to_string(pid));
    return fd;
}

void make_pipe(UniqueFd& r, UniqueFd& w) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_errno("pipe2");
    r.reset(p[0]);
    w.reset(p[1]);
}

}  // namespace

std::string protect_launcher_from_oom(std::string& why) {
    try {
        std::string old = read_file("/proc/self/oom_score_adj");
        while (!old.empty() && (old.back() == '\n' || old.back() == ' ')) old.pop_back();
        // -1000, not merely low: after a victim has been reaped but before its memory is uncharged, the
        // kernel picks the best remaining candidate however negative its score, and that can be corral
        // (seen in a shared ancestor limit). corral holds a few MiB; losing it loses the report.
        write_file("/proc/self/oom_score_adj", "-1000");
        return old;
    } catch (const Error& e) {
        why = e.what();
        return "";
    }
}

HeldChild::~HeldChild() {
    if (pid_ > 0 && !released_) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

ExecWatch HeldChild::go() {
    char c = 'g';
    ssize_t n;
    do {
        n = ::write(go_.get(), &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) throw_errno("releasing the child: write to its sync pipe");
    released_ = true;
    go_.reset();
    int fl = ::fcntl(err_.get(), F_GETFL);
    if (fl < 0 || ::fcntl(err_.get(), F_SETFL, fl | O_NONBLOCK) < 0) throw_errno("fcntl O_NONBLOCK (exec pipe)");
    return ExecWatch(std::move(err_));
}

bool ExecWatch::pump() {
    char buf[512];
    while (!ended_) {
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n > 0) {
            error_.append(buf, static_cast<size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return false;
        } else {
            ended_ = true;  // EOF: exec happened (nothing written) or the child failed and exited
        }
    }
    return true;
}

namespace {

bool g_clone3_cgroup_broken = false;

// clone3 with CLONE_PIDFD | CLONE_INTO_CGROUP, fork-like (no new stack). Returns the pid (0 in the
// child), or -1 with errno.
pid_t clone_into_cgroup(int cgroup_fd, int& pidfd_out) {
    clone_args args{};
    args.flags = CLONE_PIDFD | CLONE_INTO_CGROUP;
    args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd_out);
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
    return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

}  // namespace

bool clone_into_cgroup_unsupported() { return g_clone3_cgroup_broken; }

HeldChild spawn_held(const SpawnSpec& spec, int cgroup_fd) {
    if (spec.argv.empty()) throw Error("empty command");
    CStrings argv(spec.argv), envp(spec.env);
    UniqueFd go_r, go_w, err_r, err_w;
    make_pipe(go_r, go_w);
    make_pipe(err_r, err_w);
    pid_t pid = -1;
    bool in_cgroup = false;
    int clone_pidfd = -1;
    if (cgroup_fd >= 0 && !g_clone3_cgroup_broken && !compat_disabled("no-clone-into-cgroup")) {
        pid = clone_into_cgroup(cgroup_fd, clone_pidfd);
        if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL)) {
            g_clone3_cgroup_broken = true;  // kernel before 5.7: fork, then cgroup.procs
        } else if (pid < 0) {
            throw_errno("clone3(CLONE_INTO_CGROUP)");
        } else {
            in_cgroup = true;
        }
    }
    if (!in_cgroup) pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
        go_w.reset();
        err_r.reset();
        child_main(spec, argv.ptrs.data(), envp.ptrs.data(), go_r.get(), err_w.get());
    }
    go_r.reset();
    err_w.reset();
    UniqueFd pidfd(clone_pidfd);
    if (!pidfd) {
        try {
            pidfd = pidfd_of(pid);
        } catch (...) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw;
        }
    }
    ::fcntl(pidfd.get(), F_SETFD, FD_CLOEXEC);
    return HeldChild(pid, std::move(pidfd), std::move(go_w), std::move(err_r), in_cgroup);
}

UniqueFd spawn_now(const SpawnSpec& spec, pid_t& pid_out) {
    if (spec.argv.empty()) throw Error("empty command");
    CStrings argv(spec.argv), envp(spec.env);
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) child_main(spec, argv.ptrs.data(), envp.ptrs.data(), -1, -1);
    try {
        UniqueFd fd = pidfd_of(pid);
        pid_out = pid;
        return fd;
    } catch (...) {
        ::kill(pid, SIGKILL);  // not left running unwatched
        ::waitpid(pid, nullptr, 0);
        throw;
    }
}

std::optional<ExitStatus> reap(int pidfd) {
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) < 0)
        throw_errno("waitid(P_PIDFD)");
    if (info.si_pid == 0) return std::nullopt;
    ExitStatus st;
    if (info.si_code == CLD_EXITED)
        st.exit_code = info.si_status;
    else
        st.signal = info.si_status;
    return st;
}

}  // namespace corral
