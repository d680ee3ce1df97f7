#include "corral/run/live_output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fmt/format.h>

namespace corral {

LiveOutput::LiveOutput(int fd, std::size_t capacity) : fd_(fd), capacity_(capacity) {
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        mode_ = Mode::Closed;  // nothing to write to: everything is in the suites' files anyway
        return;
    }
    if (S_ISSOCK(st.st_mode)) {
        mode_ = Mode::Socket;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        own_ = UniqueFd(::open(fmt::format("/proc/self/fd/{}", fd).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        // Without a reopened fd (no /proc): the original, written only when poll says it takes more.
        mode_ = own_ ? Mode::NonBlocking : Mode::Direct;
    }
}

int LiveOutput::poll_fd() const {
    if (!pending()) return -1;
    switch (mode_) {
        case Mode::NonBlocking:
            return own_.get();
        case Mode::Socket:
        case Mode::Direct:
            return fd_;
        case Mode::Closed:
            return -1;
    }
    return -1;
}

std::size_t LiveOutput::try_write(std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = 0;
        switch (mode_) {
            case Mode::Closed:
                return data.size();
            case Mode::Socket:
                n = ::send(fd_, data.data() + done, data.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
                break;
            case Mode::NonBlocking:
                n = ::write(own_.get(), data.data() + done, data.size() - done);
                break;
            case Mode::Direct: {
                // A regular file never waits; anything else only when poll says it takes more (a
                // pipe takes PIPE_BUF bytes whenever it says so).
                pollfd p{fd_, POLLOUT, 0};
                struct stat st {};
                bool regular = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
                if (!regular && (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLOUT))) return done;
                std::size_t chunk = regular ? data.size() - done : std::min<std::size_t>(data.size() - done, PIPE_BUF);
                n = ::write(fd_, data.data() + done, chunk);
                break;
            }
        }
        if (n > 0) {
            done += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return done;
        } else {
            mode_ = Mode::Closed;  // EPIPE, EIO: the reader is gone for good
            return data.size();
        }
    }
    return done;
}

void LiveOutput::flush() {
    if (unsaid_ > 0 && buf_.size() < capacity_ / 2) {
        buf_ += fmt::format("[corral: {} bytes of output were left out here: this stream's reader was too slow; "
                            "the suites' output files have everything]\n",
                            unsaid_);
        unsaid_ = 0;
    }
    if (buf_.empty()) return;
    buf_.erase(0, try_write(buf_));
}

std::size_t LiveOutput::write(std::string_view data) {
    if (mode_ == Mode::Closed) return 0;  // no reader: not "dropped", there is no live stream
    if (observer_) observer_(data);
    flush();
    if (buf_.empty()) {
        std::size_t n = try_write(data);
        data.remove_prefix(n);
        if (data.empty()) return 0;
    }
    if (buf_.size() + data.size() > capacity_ || unsaid_ > 0) {
        dropped_ += data.size();
        unsaid_ += data.size();
        return data.size();
    }
    buf_.append(data);
    return 0;
}

void LiveOutput::drain(Duration limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    flush();
    while (pending() && mode_ != Mode::Closed) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return;
        pollfd p{poll_fd(), POLLOUT, 0};
        if (p.fd < 0) return;
        ::poll(&p, 1, static_cast<int>(left.count()));
        flush();
    }
}

}  // namespace corral
