// The end of a suite's captured output, cleaned for formats that cannot take every byte: the last N
// bytes of a file, ANSI escape sequences removed, text cut at a UTF-8 character boundary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corral {

struct OutputTail {
    std::string text;            // the last bytes of the file (starting at a character boundary)
    std::uint64_t skipped = 0;   // bytes before them that were left out
};

// The last max_bytes bytes of the file at path (fewer when the cut falls inside a UTF-8 character).
// Throws SysError naming the path when it cannot be opened or read.
OutputTail read_output_tail(const std::string& path, std::size_t max_bytes);

// Removes ANSI/VT escape sequences: CSI (ESC [ … final byte, colours and cursor moves), OSC (ESC ] …
// BEL or ESC \, terminal titles and hyperlinks), other two-byte ESC sequences, and a lone ESC.
std::string strip_ansi(std::string_view text);

// How many leading bytes of text are UTF-8 continuation bytes (10xxxxxx): the start of a character
// cut in half by a tail.
std::size_t utf8_continuation_prefix(std::string_view text);

}  // namespace corral
