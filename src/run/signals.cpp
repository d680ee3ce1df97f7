#include "corral/run/signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include "corral/base/error.hpp"

namespace corral {

Signals::Signals() {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&mask, s);
    if (::sigprocmask(SIG_BLOCK, &mask, &old_) < 0) throw_errno("sigprocmask");
    fd_ = UniqueFd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd_) {
        int err = errno;
        ::sigprocmask(SIG_SETMASK, &old_, nullptr);
        throw_errno("signalfd", err);
    }
}

Signals::~Signals() {
    if (restore_) ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

std::vector<int> Signals::read() {
    std::vector<int> out;
    signalfd_siginfo si;
    while (::read(fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
        out.push_back(static_cast<int>(si.ssi_signo));
    return out;
}

}  // namespace corral
