#include "corral/run/progress_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "corral/base/error.hpp"

namespace corral {

ProgressMode parse_progress_mode(const std::string& name) {
    if (name == "auto") return ProgressMode::Auto;
    if (name == "bar") return ProgressMode::Bar;
    if (name == "lines") return ProgressMode::Lines;
    if (name == "none") return ProgressMode::None;
    throw UsageError("--progress '" + name + "': expected auto, bar, lines or none");
}

std::string progress_mode_name(ProgressMode m) {
    switch (m) {
        case ProgressMode::Auto: return "auto";
        case ProgressMode::Bar: return "bar";
        case ProgressMode::Lines: return "lines";
        case ProgressMode::None: return "none";
    }
    return "auto";
}

std::string display_text(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == 0x1b) {  // ESC [ … final byte (CSI), ESC ] … BEL or ESC \ (OSC), or ESC and one byte
            if (i + 1 < text.size() && text[i + 1] == '[') {
                i += 2;
                while (i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7e)) ++i;
            } else if (i + 1 < text.size() && text[i + 1] == ']') {
                i += 2;
                while (i < text.size() && text[i] != '\a' && !(text[i] == 0x1b && i + 1 < text.size() && text[i + 1] == '\\'))
                    ++i;
                if (i < text.size() && text[i] == 0x1b) ++i;
            } else {
                ++i;
            }
            continue;
        }
        if (c == '\t') {
            out += ' ';
            continue;
        }
        if (c < 0x20 || c == 0x7f) continue;
        out += static_cast<char>(c);
    }
    return out;
}

std::string fit_width(std::string_view text, std::size_t cols) {
    if (cols == 0) return "";
    std::size_t chars = 0, cut = std::string_view::npos;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // a continuation byte
        if (chars == cols - 1) cut = i;  // where "…" goes if the text is longer than cols
        if (chars == cols) return std::string(text.substr(0, cut)) + "…";
        ++chars;
    }
    return std::string(text);
}

std::string memory_bar(std::uint64_t now, std::uint64_t max, std::size_t width) {
    std::size_t filled = width;
    if (max > 0 && now < max)
        filled = static_cast<std::size_t>(std::llround(static_cast<double>(width) * static_cast<double>(now) /
                                                       static_cast<double>(max)));
    if (now > 0 && filled == 0) filled = 1;  // something is used
    return "[" + std::string(std::min(filled, width), '#') + std::string(width - std::min(filled, width), ' ') + "]";
}

namespace {

// Whole seconds: "0s", "12s", "1m30s".
std::string whole_seconds(double s) {
    return format_duration(std::chrono::seconds(static_cast<long long>(std::floor(std::max(0.0, s)))));
}

std::string elapsed_text(const SuiteStatus& s) {
    std::string t = whole_seconds(s.elapsed_s);
    if (s.timeout_s) t += " / " + format_duration(Duration(static_cast<Duration::rep>(*s.timeout_s * 1e6)));
    return t;
}

std::string memory_text(const SuiteStatus& s) {
    if (!s.memory_bytes) return "memory n/a";
    std::string m = format_bytes(*s.memory_bytes);
    if (s.memory_max) m += " / " + format_bytes(*s.memory_max);
    return m;
}

}  // namespace

std::string area_line(const SuiteStatus& s, std::size_t name_width, std::size_t cols) {
    std::string line = fmt::format("{:<{}}  {:>11}  ", s.name, name_width, elapsed_text(s));
    if (s.memory_bytes && s.memory_max) line += memory_bar(*s.memory_bytes, *s.memory_max, 10) + " ";
    line += memory_text(s) + "  ";
    if (s.ending)
        line += "ending  ";
    else if (s.stall != StallState::Active) line += "stalled?  ";
    line += display_text(s.last_line);
    return fit_width(line, cols);
}

std::string periodic_line(const SuiteStatus& s) {
    std::string line = fmt::format("corral: [{}] running {}; memory {}", s.name, elapsed_text(s),
                                   s.memory_bytes ? format_bytes(*s.memory_bytes) : std::string("n/a"));
    if (s.memory_bytes && s.memory_max)
        line += fmt::format(" / {} ({})", format_bytes(*s.memory_max), percent_of(*s.memory_bytes, *s.memory_max));
    line += s.last_line.empty() ? std::string("; nothing printed yet")
                                : "; last line " + quote_line(display_text(s.last_line));
    if (s.ending) line += "; its tree is being ended";
    else if (s.stall != StallState::Active)
        line += "; stalled? no output and no CPU time for " + whole_seconds(s.quiet_s);
    return line + "\n";
}

std::string start_line(const std::string& name, std::optional<double> timeout_s, std::optional<std::uint64_t> memory_max) {
    std::string limits;
    if (timeout_s) limits += "timeout " + format_duration(Duration(static_cast<Duration::rep>(*timeout_s * 1e6)));
    if (memory_max) limits += std::string(limits.empty() ? "" : ", ") + "memory.max " + format_bytes(*memory_max);
    return fmt::format("corral: [{}] started{}\n", name, limits.empty() ? "" : " (" + limits + ")");
}

std::string end_line(const SuiteResult& r) {
    return fmt::format("corral: [{}] {} after {}, {}\n", r.name, verdict_name(r.verdict), format_seconds(r.duration_s),
                       peak_text(r, PeakStyle::Compact));
}

std::string erase_area(std::size_t lines) {
    if (lines == 0) return "";
    return lines > 1 ? fmt::format("\r\x1b[{}A\x1b[J", lines - 1) : std::string("\r\x1b[J");
}

}  // namespace corral
