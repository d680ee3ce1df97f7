// corral's own stdout and stderr while suites run: written without ever blocking the event loop. A
// slow reader (a terminal over a slow link, a CI log pipe nobody drains) must not stall every suite's
// timeouts and samples: what the fd does not take at once waits in a bounded buffer, flushed when
// the fd is writable again; what does not fit is dropped and counted, and the live stream says so.
// The suites' output files always have everything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "corral/base/fd.hpp"
#include "corral/profile/quantities.hpp"

namespace corral {

class LiveOutput {
public:
    static constexpr std::size_t kCapacity = 1 << 20;  // buffered bytes at most, per stream

    // fd: 1 or 2. A pipe, FIFO or terminal is reopened through /proc/self/fd with O_NONBLOCK (a new
    // open file description: the caller's own stays as it was); a socket is written with
    // MSG_DONTWAIT; a regular file is written as it is (its writes do not wait for a reader).
    explicit LiveOutput(int fd, std::size_t capacity = kCapacity);

    // Writes what the fd takes now and buffers the rest; returns how many bytes did not fit and were
    // dropped (all of data or none: a line is never cut).
    std::size_t write(std::string_view data);
    // The fd to watch for EPOLLOUT while pending(); -1 when there is nothing to wait for.
    int poll_fd() const;
    bool pending() const { return !buf_.empty() || unsaid_ > 0; }
    // Writes what the fd takes now.
    void flush();
    // At the end of the run: waits up to `limit` for the fd to take what is buffered.
    void drain(Duration limit);
    std::uint64_t dropped() const { return dropped_; }
    // Called with the data at the start of every write() (run/progress: its terminal area is erased
    // before output and learns whether the stream is mid-line); empty: none.
    void set_observer(std::function<void(std::string_view)> f) { observer_ = std::move(f); }

private:
    enum class Mode { Direct, NonBlocking, Socket, Closed };
    // One write attempt of what the fd takes now; returns bytes written (0: it would block).
    std::size_t try_write(std::string_view data);

    int fd_;
    UniqueFd own_;  // the non-blocking reopened fd (Mode::NonBlocking)
    Mode mode_ = Mode::Direct;
    std::size_t capacity_;
    std::string buf_;
    std::uint64_t dropped_ = 0;
    std::uint64_t unsaid_ = 0;  // dropped since the stream last said so
    std::function<void(std::string_view)> observer_;
};

}  // namespace corral
