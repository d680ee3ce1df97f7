// A placeholder process that holds a systemd scope populated.
#pragma once

#include <sys/types.h>

#include "corral/base/fd.hpp"

namespace corral {

// A process that keeps the scope populated until corral has read the scope's counters: systemd
// stops an empty scope and removes its cgroup at once, taking the peak and OOM counters with it.
// It ignores SIGTERM (the suite's ending signal) and exits when its pipe closes or on SIGKILL.
// Held by its pidfd: signalled and reaped through it only, so that once it is gone (reaped by
// someone else, or its pid reused) nothing reaches another process.
class Keeper {
public:
    Keeper();
    ~Keeper();  // kills it and reaps it (it never blocks in the kernel: a SIGKILL ends it at once)
    Keeper(const Keeper&) = delete;
    Keeper& operator=(const Keeper&) = delete;

    pid_t pid() const { return pid_; }  // for the bus (PIDs=) and to tell it from the suite's processes
    int pidfd() const { return pidfd_.get(); }
    // Lets it go: closes its pipe and sends SIGKILL through the pidfd. Then reaped() says when it is gone.
    void kill();
    // True once it has exited and been reaped (by us, or already by someone else); never waits.
    bool reaped();

private:
    pid_t pid_ = -1;
    UniqueFd write_, pidfd_;
    bool reaped_ = false;
};

}  // namespace corral
