// Test boundaries ("markers") recognised in a suite's output: which test starts or ends at a line.
// Pure: the run feeds lines, the growth analysis (report/growth) gets the events.
// The patterns live in one table in markers.cpp, each unit-tested on real captured output
// (tests/fixtures/markers/).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "corral/profile/profile.hpp"

namespace corral {

enum class MarkerKind { Pytest, Unittest, Ctest, Go, Cargo, Gtest, Counter, Regex };
// "pytest" "unittest" "ctest" "go" "cargo" "gtest" "counter" "regex" (the report's marker_kind)
std::string marker_kind_name(MarkerKind k);

// What one line says about a test.
//   Start  the test `name` starts now: pytest -v's node id printed before the test runs (a partial
//          line), ctest's "Start N: name", go's "=== RUN", GoogleTest's "[ RUN      ]".
//   End    it has ended: pytest's PASSED/FAILED/…, unittest's "... ok", ctest's "N/M Test #N: name",
//          go's "--- PASS", "[       OK ]"; runners that print a test only once it is over
//          (pytest -n, cargo, nextest, progress counters) give End only.
// Auto mode decides on the first runner it recognises and from then on uses only that runner's
// patterns (a stray "1/2" in a pytest run is not a progress counter). The table of patterns, with
// what each runner prints, is in markers.cpp.
struct MarkerEvent {
    enum class Type { Start, End };
    Type type = Type::End;
    MarkerKind kind = MarkerKind::Regex;
    std::string name;
};

// Recognises markers in one suite's output, per the profile's `markers` key.
class MarkerDetector {
public:
    explicit MarkerDetector(const MarkersSpec& spec);
    // A complete line (without its '\n') of stdout or stderr.
    std::optional<MarkerEvent> on_line(std::string_view line);
    // The unterminated end of a stream as it grows (pytest -v prints the node id, then the result
    // once the test is over). Gives a Start at most once for one partial line; a progress counter
    // redrawn with '\r' (no '\n' until the end) gives its End events here too.
    std::optional<MarkerEvent> on_partial(std::string_view partial);
    // The runner recognised so far (auto), Regex with a pattern, nullopt before any marker / none.
    std::optional<MarkerKind> kind() const noexcept { return kind_; }

private:
    struct Pattern;  // the compiled user pattern (markers.cpp)
    std::optional<MarkerEvent> match(std::string_view text, bool partial);
    std::optional<MarkerEvent> counter(std::string_view text, bool partial);

    MarkersSpec spec_;
    std::optional<MarkerKind> kind_;
    std::string partial_started_;  // the partial line that gave the last Start
    std::shared_ptr<const Pattern> pattern_;
    int runner_ = -1;              // the runner auto mode decided on (an index into its table), -1 before
    std::string running_;          // the name of the last Start (unittest's docstring lines name no test)
    bool in_summary_ = false;      // after nextest's "Summary [": its repeated lines are no new tests
    std::uint64_t counter_n_ = 0;  // the last progress counter N/M seen
    std::uint64_t counter_m_ = 0;
    std::string scratch_;  // the line without ANSI colour sequences
};

}  // namespace corral
