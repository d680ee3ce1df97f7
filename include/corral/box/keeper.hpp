// A placeholder process that holds a systemd scope populated.
#pragma once

#include <sys/types.h>

#include "corral/base/fd.hpp"

namespace corral {

// A process that keeps the scope populated until corral has read the scope's counters: systemd
// stops an empty scope and removes its cgroup at once, taking the peak and OOM counters with it.
// It ignores SIGTERM (the suite's ending signal) and exits when its pipe closes or on SIGKILL.
class Keeper {
public:
    Keeper();
    ~Keeper() { release(); }
    Keeper(const Keeper&) = delete;
    Keeper& operator=(const Keeper&) = delete;

    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    // Lets it exit and reaps it.
    void release();

private:
    pid_t pid_ = -1;
    UniqueFd write_, pidfd_;
};

}  // namespace corral
