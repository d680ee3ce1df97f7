#include "corral/run/output.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "corral/base/error.hpp"
#include "corral/profile/quantities.hpp"

namespace corral {

namespace {
constexpr size_t kMaxLine = 4096;  // longer lines are split for prefixing and last-line tracking

// Writes all of data to a regular file, adding what was written to `written`; returns 0 or the errno
// of the failure.
int write_all(int fd, const char* data, size_t n, std::uint64_t& written) {
    while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data += w;
        n -= static_cast<size_t>(w);
        written += static_cast<std::uint64_t>(w);
    }
    return 0;
}
}  // namespace

std::string trim_line(const std::string& line) {
    size_t b = line.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    size_t e = line.find_last_not_of(" \t\r\n");
    return line.substr(b, e - b + 1);
}

OutputStream::OutputStream(UniqueFd pipe_read, UniqueFd file, std::string path, LiveOutput* live,
                           std::string prefix, std::string* last_line, TextSink on_text)
    : pipe_(std::move(pipe_read)), file_(std::move(file)), path_(std::move(path)), live_(live),
      prefix_(std::move(prefix)), last_line_(last_line), on_text_(std::move(on_text)) {
    int fl = ::fcntl(pipe_.get(), F_GETFL);
    if (fl < 0 || ::fcntl(pipe_.get(), F_SETFL, fl | O_NONBLOCK) < 0) throw_errno("fcntl O_NONBLOCK");
}

void OutputStream::feed(const char* data, size_t n) {
    if (n > 0) mid_line_ = data[n - 1] != '\n';
    if (file_) {
        if (int err = write_all(file_.get(), data, n, written_); err != 0) {
            // A full disk must not stop supervision: say so once, keep the live stream and last line.
            file_error_ = "writing " + path_ + " failed after " + format_bytes(written_) + ": " + errno_text(err) +
                          "; the rest of the output is not in the file";
            file_.reset();
        }
    }
    if (prefix_.empty() && live_) dropped_live_ += live_->write(std::string_view(data, n));
    for (size_t i = 0; i < n; ++i) {
        if (data[i] == '\n') {
            end_line();
        } else {
            partial_ += data[i];
            if (partial_.size() >= kMaxLine) end_line();  // a very long line goes out in pieces
        }
    }
    if (on_text_ && !partial_.empty()) on_text_(partial_, true);
}

void OutputStream::end_line() {
    if (!prefix_.empty() && live_) dropped_live_ += live_->write(prefix_ + partial_ + "\n");
    std::string t = trim_line(partial_);
    if (!t.empty()) *last_line_ = t;
    if (on_text_) on_text_(partial_, false);
    partial_.clear();
}

bool OutputStream::pump() {
    if (!pipe_) return false;
    char buf[65536];
    for (int round = 0; round < 16; ++round) {  // bounded: one chatty suite must not starve the others
        ssize_t n = ::read(pipe_.get(), buf, sizeof buf);
        if (n > 0) {
            feed(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return true;
        return false;  // EOF or error: the caller unregisters the fd, then drain() closes it
    }
    return true;
}

void OutputStream::drain() {
    while (pipe_) {
        char buf[65536];
        ssize_t n = ::read(pipe_.get(), buf, sizeof buf);
        if (n > 0) {
            feed(buf, static_cast<size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            close_stream();  // EOF, or a writer outside the box still holds it: stop here
        }
    }
}

void OutputStream::close_stream() {
    if (!partial_.empty()) end_line();  // a last line without a newline
    pipe_.reset();
    if (file_ && ::fsync(file_.get()) < 0 && file_error_.empty())
        file_error_ = "fsync " + path_ + ": " + errno_text(errno);
    file_.reset();
}

}  // namespace corral
