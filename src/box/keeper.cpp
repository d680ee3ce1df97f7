#include "corral/box/keeper.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "corral/base/error.hpp"

namespace corral {

Keeper::Keeper() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_errno("pipe2");
    UniqueFd r(p[0]), w(p[1]);
    int pidfd = -1;
    clone_args args{};
    args.flags = CLONE_PIDFD;
    args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    pid_ = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
    if (pid_ < 0 && (errno == ENOSYS || errno == E2BIG)) pid_ = ::fork();  // before 5.3: pidfd_open below
    if (pid_ < 0) throw_errno("fork (the scope's keeper)");
    if (pid_ == 0) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(sig, SIG_IGN);
        // Only its own pipe: another keeper's write end held here would keep that one alive.
        ::dup2(r.get(), 0);
        ::close_range(1, ~0U, 0);
        char c;
        while (::read(0, &c, 1) < 0 && errno == EINTR) {
        }
        ::_exit(0);
    }
    write_ = std::move(w);
    if (pidfd < 0) pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0) {
        int err = errno;
        ::kill(pid_, SIGKILL);  // our child, not yet waited for: the pid is still ours
        ::waitpid(pid_, nullptr, 0);
        throw_errno("pidfd_open (the scope's keeper)", err);
    }
    pidfd_ = UniqueFd(pidfd);
    ::fcntl(pidfd_.get(), F_SETFD, FD_CLOEXEC);
}

Keeper::~Keeper() {
    if (!pidfd_ || reaped_) return;
    kill();
    siginfo_t info{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED) < 0 &&
           errno == EINTR) {
    }
}

void Keeper::kill() {
    write_.reset();
    if (pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);  // ESRCH: gone already
}

bool Keeper::reaped() {
    if (reaped_ || !pidfd_) return true;
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG) < 0) {
        reaped_ = errno == ECHILD;  // someone reaped it already
        return reaped_;
    }
    reaped_ = info.si_pid != 0;
    return reaped_;
}

}  // namespace corral
