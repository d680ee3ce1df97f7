#include "corral/report/output_tail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"

namespace corral {

OutputTail read_output_tail(const std::string& path, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0) throw_errno("fstat " + path);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    OutputTail tail;
    const std::uint64_t start = size > max_bytes ? size - max_bytes : 0;
    tail.text.resize(static_cast<std::size_t>(size - start));
    std::size_t got = 0;
    while (got < tail.text.size()) {
        ssize_t n = ::pread(fd.get(), tail.text.data() + got, tail.text.size() - got, static_cast<off_t>(start + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read " + path);
        if (n == 0) break;  // the file shrank since fstat
        got += static_cast<std::size_t>(n);
    }
    tail.text.resize(got);
    tail.skipped = start;
    if (start > 0) {  // the cut fell inside a character: start at the next one
        const std::size_t cut = utf8_continuation_prefix(tail.text);
        tail.text.erase(0, cut);
        tail.skipped += cut;
    }
    return tail;
}

std::size_t utf8_continuation_prefix(std::string_view text) {
    std::size_t i = 0;
    // A UTF-8 character has at most 3 continuation bytes; more are not one character's and stay.
    while (i < text.size() && i < 3 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    return i;
}

std::string strip_ansi(std::string_view in) {
    constexpr char kEsc = '\x1b';
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        if (in[i] != kEsc) {
            out += in[i++];
            continue;
        }
        if (i + 1 >= in.size()) break;  // a lone ESC at the end
        const char kind = in[i + 1];
        if (kind == '[') {  // CSI: parameter and intermediate bytes 0x20-0x3F, then a final byte 0x40-0x7E
            std::size_t j = i + 2;
            while (j < in.size() && in[j] >= 0x20 && in[j] <= 0x3F) ++j;
            if (j < in.size() && in[j] >= 0x40 && in[j] <= 0x7E) ++j;
            i = j;
        } else if (kind == ']' || kind == 'P' || kind == '_' || kind == '^') {
            // OSC, DCS, APC, PM: a string up to BEL or ST (ESC \); an unterminated one runs to the end.
            std::size_t j = i + 2;
            while (j < in.size() && in[j] != '\a' && !(in[j] == kEsc && j + 1 < in.size() && in[j + 1] == '\\')) ++j;
            i = j >= in.size() ? j : j + (in[j] == '\a' ? 1 : 2);
        } else if (kind >= 0x20 && kind <= 0x2F) {  // ESC ( B and the like: intermediates, then one byte
            std::size_t j = i + 2;
            while (j < in.size() && in[j] >= 0x20 && in[j] <= 0x2F) ++j;
            i = j < in.size() ? j + 1 : j;
        } else {
            i += 2;  // ESC 7, ESC 8, ESC =, ESC c, …
        }
    }
    return out;
}

}  // namespace corral
