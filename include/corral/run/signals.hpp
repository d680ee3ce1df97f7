// corral's own signals: SIGINT, SIGTERM and SIGCHLD blocked and read through a signalfd, from before
// the first suite starts until the report is on disk, so that a late one cannot kill corral halfway.
#pragma once

#include <signal.h>

#include <vector>

#include "corral/base/fd.hpp"

namespace corral {

class Signals {
public:
    Signals();   // blocks them; throws SysError
    ~Signals();  // restores the mask it found (signals that came meanwhile stay pending)
    Signals(const Signals&) = delete;
    Signals& operator=(const Signals&) = delete;

    int fd() const noexcept { return fd_.get(); }
    // The signals that came since the last call (non-blocking), in order.
    std::vector<int> read();
    // Keep them blocked at the end: the process exits with whatever came left pending.
    void keep_blocked() noexcept { restore_ = false; }

private:
    sigset_t old_{};
    UniqueFd fd_;
    bool restore_ = true;
};

}  // namespace corral
