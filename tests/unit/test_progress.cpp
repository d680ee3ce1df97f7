// The text of the live progress (run/progress_text.hpp): the terminal area's lines, the periodic line
// a log gets, the start and end lines, and the terminal control that erases the area.
#include <catch2/catch.hpp>

#include "corral/run/progress_text.hpp"

using namespace corral;
using Catch::Matchers::Contains;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

SuiteStatus collecting() {
    SuiteStatus s;
    s.name = "unit";
    s.elapsed_s = 12.7;
    s.timeout_s = 300;
    s.memory_bytes = 16 * MiB;
    s.memory_max = 64 * MiB;
    s.last_line = "collecting ...";
    return s;
}

// Columns as a terminal counts them here: one per UTF-8 character.
std::size_t columns(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

}  // namespace

TEST_CASE("progress mode names: auto, bar, lines, none", "[progress]") {
    for (auto m : {ProgressMode::Auto, ProgressMode::Bar, ProgressMode::Lines, ProgressMode::None})
        CHECK(parse_progress_mode(progress_mode_name(m)) == m);
    CHECK_THROWS_WITH(parse_progress_mode("fancy"), "--progress 'fancy': expected auto, bar, lines or none");
}

TEST_CASE("display_text leaves out escape sequences and control characters", "[progress]") {
    CHECK(display_text("\x1b[32mPASSED\x1b[0m tests/a.py") == "PASSED tests/a.py");
    CHECK(display_text("a\rb\x07" "c\td") == "abc d");
    CHECK(display_text("\x1b]0;title\x07text") == "text");
    CHECK(display_text("\x1b]8;;http://x\x1b\\link") == "link");
    CHECK(display_text("résumé ✓") == "résumé ✓");
}

TEST_CASE("fit_width cuts to the terminal's columns, never inside a UTF-8 character", "[progress]") {
    CHECK(fit_width("short", 10) == "short");
    CHECK(fit_width("exactly10!", 10) == "exactly10!");
    CHECK(fit_width("eleven chars", 10) == "eleven ch…");
    CHECK(columns(fit_width("eleven chars", 10)) == 10);
    CHECK(fit_width("ééééééé", 4) == "ééé…");
    CHECK(fit_width("abc", 0) == "");
    CHECK(fit_width("abc", 1) == "…");
}

TEST_CASE("memory_bar fills in proportion to the limit", "[progress]") {
    CHECK(memory_bar(0, 64 * MiB, 10) == "[          ]");
    CHECK(memory_bar(16 * MiB, 64 * MiB, 10) == "[###       ]");  // 2.5 cells, rounded
    CHECK(memory_bar(32 * MiB, 64 * MiB, 10) == "[#####     ]");
    CHECK(memory_bar(64 * MiB, 64 * MiB, 10) == "[##########]");
    CHECK(memory_bar(80 * MiB, 64 * MiB, 10) == "[##########]");  // over: full, never longer
    CHECK(memory_bar(1, 64 * MiB, 10) == "[#         ]");          // anything used shows
}

TEST_CASE("area_line: name, elapsed / timeout, memory bar and values, last line, cut to the width", "[progress]") {
    SuiteStatus s = collecting();
    CHECK(area_line(s, 6, 120) == "unit       12s / 5m  [###       ] 16 MiB / 64 MiB  collecting ...");
    SECTION("cut to the terminal's width") {
        s.last_line = std::string(200, 'x');
        const std::string line = area_line(s, 6, 80);
        CHECK(columns(line) == 80);
        CHECK(line.substr(line.size() - 3) == "…");
    }
    SECTION("stalled? at half the stall_timeout, ending while the tree is ended") {
        s.stall = StallState::Suspect;
        CHECK_THAT(area_line(s, 6, 120), Contains("64 MiB  stalled?  collecting ..."));
        s.ending = true;
        CHECK_THAT(area_line(s, 6, 120), Contains("64 MiB  ending  collecting ..."));
    }
    SECTION("no memory.max: no bar; no timeout, no sample yet") {
        s.memory_max.reset();
        CHECK(area_line(s, 4, 120) == "unit     12s / 5m  16 MiB  collecting ...");
        s.timeout_s.reset();
        s.memory_bytes.reset();
        s.elapsed_s = 0.3;
        CHECK(area_line(s, 4, 120) == "unit           0s  memory n/a  collecting ...");
    }
    SECTION("a colour code in the last line never reaches the terminal") {
        s.last_line = "\x1b[31mFAILED\x1b[0m test_x";
        CHECK_THAT(area_line(s, 4, 120), Contains("64 MiB  FAILED test_x"));
    }
}

TEST_CASE("periodic_line says where a running suite is", "[progress]") {
    SuiteStatus s = collecting();
    CHECK(periodic_line(s) ==
          "corral: [unit] running 12s / 5m; memory 16 MiB / 64 MiB (25%); last line 'collecting ...'\n");
    s.stall = StallState::Suspect;
    s.quiet_s = 61.5;
    CHECK_THAT(periodic_line(s), Contains("; stalled? no output and no CPU time for 1m1s\n"));
    s.last_line.clear();
    s.memory_max.reset();
    CHECK_THAT(periodic_line(s), Contains("memory 16 MiB; nothing printed yet"));
}

TEST_CASE("start and end lines", "[progress]") {
    CHECK(start_line("unit", 300.0, 64 * MiB) == "corral: [unit] started (timeout 5m, memory.max 64 MiB)\n");
    CHECK(start_line("unit", std::nullopt, std::nullopt) == "corral: [unit] started\n");
    SuiteResult r;
    r.name = "unit";
    r.exit_code = 0;
    r.duration_s = 0.506;
    r.peak_bytes = 752 * 1024;
    r.limits.memory_max = 64 * MiB;
    finalize(r);
    CHECK(end_line(r) == "corral: [unit] passed after 506ms, peak 752 KiB / 64 MiB (1%)\n");
}

TEST_CASE("erase_area goes back to the area's first line and clears to the end of the screen", "[progress]") {
    CHECK(erase_area(0) == "");
    CHECK(erase_area(1) == "\r\x1b[J");
    CHECK(erase_area(3) == "\r\x1b[2A\x1b[J");
}
