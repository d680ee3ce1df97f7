#include "corral/box/keeper.hpp"

#include <fcntl.h>
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
    pid_ = ::fork();
    if (pid_ < 0) throw_errno("fork");
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
    pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
}

void Keeper::release() {
    if (pid_ <= 0) return;
    write_.reset();
    ::kill(pid_, SIGKILL);  // and should it be stuck somewhere, it still goes
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

}  // namespace corral
