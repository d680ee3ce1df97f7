#include "corral/run/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "corral/base/error.hpp"

namespace corral {

EventLoop::EventLoop() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!ep_) throw_errno("epoll_create1");
}

void EventLoop::add(int fd, std::uint32_t events, Handler h) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl ADD fd " + std::to_string(fd));
    handlers_[fd] = std::make_shared<Handler>(std::move(h));
}

void EventLoop::remove(int fd) noexcept {
    if (handlers_.erase(fd)) ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::run_once(int timeout_ms) {
    if (before_wait_) before_wait_();
    epoll_event events[32];
    int n = ::epoll_wait(ep_.get(), events, 32, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return;
        throw_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
        auto it = handlers_.find(events[i].data.fd);
        if (it == handlers_.end()) continue;  // removed by an earlier handler in this batch
        auto keep = it->second;               // the handler may remove itself
        (*keep)(events[i].events);
    }
}

Timer::Timer() : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
    if (!fd_) throw_errno("timerfd_create");
}

namespace {
timespec to_ts(Duration d) {
    auto us = std::max<long long>(d.count(), 1);
    return timespec{static_cast<time_t>(us / 1000000), static_cast<long>((us % 1000000) * 1000)};
}
}  // namespace

void Timer::arm_once(Duration after) {
    itimerspec its{};
    its.it_value = to_ts(after);
    if (::timerfd_settime(fd_.get(), 0, &its, nullptr) < 0) throw_errno("timerfd_settime");
}

void Timer::arm_periodic(Duration interval) {
    itimerspec its{};
    its.it_value = to_ts(interval);
    its.it_interval = to_ts(interval);
    if (::timerfd_settime(fd_.get(), 0, &its, nullptr) < 0) throw_errno("timerfd_settime");
}

void Timer::disarm() {
    itimerspec its{};
    ::timerfd_settime(fd_.get(), 0, &its, nullptr);
}

bool Timer::consume() {
    std::uint64_t n;
    return ::read(fd_.get(), &n, sizeof n) == static_cast<ssize_t>(sizeof n);
}

}  // namespace corral
