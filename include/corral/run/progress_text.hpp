// What corral's live progress says (pure): the lines of the terminal's status area, the periodic
// line a log gets, the start and end lines of --progress lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "corral/report/result.hpp"
#include "corral/run/stall.hpp"

namespace corral {

// --progress auto|bar|lines|none
enum class ProgressMode { Auto, Bar, Lines, None };
ProgressMode parse_progress_mode(const std::string& name);  // throws UsageError for other names
std::string progress_mode_name(ProgressMode m);

// A running suite, as its samples and output left it.
struct SuiteStatus {
    std::string name;
    double elapsed_s = 0;
    std::optional<double> timeout_s;
    std::optional<std::uint64_t> memory_bytes;  // the last sample's (nullopt: none yet, or unboxed)
    std::optional<std::uint64_t> memory_max;    // nullopt: no memory.max
    std::string last_line;                      // the last line printed, or the one being printed
    StallState stall = StallState::Active;
    double quiet_s = 0;  // no output and no CPU time for this long
    bool ending = false;  // timed out or interrupted: its tree is being ended
};

// The text as a terminal line may show it: escape sequences and control characters left out
// (a colour code or a '\r' would move the cursor the area counts on).
std::string display_text(std::string_view text);
// Cut to at most `cols` columns (one a UTF-8 character), the last one "…" when cut.
std::string fit_width(std::string_view text, std::size_t cols);
// "[######    ]": `width` cells inside the brackets, filled in proportion to now / max (at most full).
std::string memory_bar(std::uint64_t now, std::uint64_t max, std::size_t width);

// One line of the status area, at most `cols` columns:
// "unit   12s / 5m  [###       ] 120 MiB / 1 GiB  stalled?  collecting ..."
std::string area_line(const SuiteStatus& s, std::size_t name_width, std::size_t cols);
// The periodic line a log gets for a running suite:
// "corral: [unit] running 1m0s / 5m; memory 120 MiB / 1 GiB (12%); last line 'collecting ...'"
std::string periodic_line(const SuiteStatus& s);
// --progress lines: "corral: [unit] started (timeout 5m, memory.max 1 GiB)".
std::string start_line(const std::string& name, std::optional<double> timeout_s, std::optional<std::uint64_t> memory_max);
// The line a finished suite leaves: "corral: [unit] passed after 506ms, peak 752 KiB / 64 MiB (1%)".
std::string end_line(const SuiteResult& r);

// Terminal control: erases an area of `lines` lines drawn with the cursor left at the end of its
// last line, leaving the cursor at the start of its first line.
std::string erase_area(std::size_t lines);

}  // namespace corral
