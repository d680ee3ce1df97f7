// One output stream of a suite: pipe → file in the report dir, live pass-through, last line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "corral/base/fd.hpp"
#include "corral/run/live_output.hpp"

namespace corral {

class OutputStream {
public:
    // pipe_read: the parent's end (made non-blocking here); file: where everything is kept (path for
    // messages); live: corral's stdout or stderr; prefix: "[suite] " for parallel runs, "" to pass
    // bytes straight through.
    // on_text (may be empty) gets each complete line (without its '\n', partial = false) and, after
    // each read, the unterminated rest of the stream when there is one (partial = true).
    using TextSink = std::function<void(std::string_view text, bool partial)>;
    OutputStream(UniqueFd pipe_read, UniqueFd file, std::string path, LiveOutput* live, std::string prefix,
                 std::string* last_line, TextSink on_text = {});

    int fd() const noexcept { return pipe_.get(); }
    bool open() const noexcept { return static_cast<bool>(pipe_); }
    // Reads what is available. Returns false at EOF; then unregister fd() and call drain().
    bool pump();
    // Reads until EOF or nothing more is available, then closes.
    void drain();
    // Bytes the live stream could not take (a slow reader); the file has them.
    std::uint64_t dropped_live() const noexcept { return dropped_live_; }
    // "" or what went wrong writing the file ("writing x.stdout failed after 1 MiB: No space left on
    // device; the rest of the output is not in the file").
    const std::string& file_error() const noexcept { return file_error_; }
    // The last byte passed through was not a newline (a CI group's end line needs one first).
    bool ends_mid_line() const noexcept { return mid_line_; }

private:
    void feed(const char* data, size_t n);
    void end_line();  // a complete line: prefixed pass-through and last-line tracking
    void close_stream();

    UniqueFd pipe_;
    UniqueFd file_;
    std::string path_;
    LiveOutput* live_;
    std::string prefix_;
    std::string partial_;     // the current unfinished line
    std::string* last_line_;  // shared by a suite's stdout and stderr
    TextSink on_text_;
    std::uint64_t written_ = 0, dropped_live_ = 0;
    std::string file_error_;
    bool mid_line_ = false;
};

// The last complete, non-blank line of text, trimmed; "" if none.
std::string trim_line(const std::string& line);

}  // namespace corral
