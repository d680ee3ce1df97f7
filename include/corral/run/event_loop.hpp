// One epoll loop serving every suite: pidfds, timerfds, output pipes, cgroup.events, signalfd.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "corral/base/fd.hpp"
#include "corral/profile/quantities.hpp"

namespace corral {

class EventLoop {
public:
    using Handler = std::function<void(std::uint32_t events)>;
    EventLoop();
    // Handlers must tolerate spurious wake-ups (a closed and reused fd number).
    void add(int fd, std::uint32_t events, Handler h);
    void remove(int fd) noexcept;
    // Waits for events (timeout_ms -1 = forever) and dispatches them.
    void run_once(int timeout_ms = -1);
    // Called at the start of every run_once, before the wait.
    void before_wait(std::function<void()> f) { before_wait_ = std::move(f); }

private:
    UniqueFd ep_;
    std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
    std::function<void()> before_wait_;
};

// A timerfd (CLOCK_MONOTONIC, non-blocking).
class Timer {
public:
    Timer();
    int fd() const noexcept { return fd_.get(); }
    void arm_once(Duration after);
    void arm_periodic(Duration interval);
    void disarm();
    // Reads the expiry count; false on a spurious wake-up.
    bool consume();

private:
    UniqueFd fd_;
};

}  // namespace corral
