// One output stream of a suite: pipe → file in the report dir, live pass-through, last line.
#pragma once

#include <string>

#include "corral/base/fd.hpp"

namespace corral {

class OutputStream {
public:
    // pipe_read: the parent's end (made non-blocking here); file: where everything is kept;
    // live_fd: 1 or 2; prefix: "[suite] " for parallel runs, "" to pass bytes straight through.
    OutputStream(UniqueFd pipe_read, UniqueFd file, int live_fd, std::string prefix, std::string* last_line);

    int fd() const noexcept { return pipe_.get(); }
    bool open() const noexcept { return static_cast<bool>(pipe_); }
    // Reads what is available. Returns false at EOF; then unregister fd() and call drain().
    bool pump();
    // Reads until EOF or nothing more is available, then closes.
    void drain();

private:
    void feed(const char* data, size_t n);
    void end_line();  // a complete line: prefixed pass-through and last-line tracking
    void close_stream();

    UniqueFd pipe_;
    UniqueFd file_;
    int live_fd_;
    std::string prefix_;
    std::string partial_;     // the current unfinished line
    std::string* last_line_;  // shared by a suite's stdout and stderr
};

// The last complete, non-blank line of text, trimmed; "" if none.
std::string trim_line(const std::string& line);

}  // namespace corral
