// Test boundaries ("markers") recognised in a suite's output: which test starts or ends at a line.
// Pure: the run feeds lines, the growth analysis (report/growth) gets the events.
// The patterns live in one table in markers.cpp, each unit-tested on real captured output
// (tests/fixtures/markers/).
#pragma once

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
    // once the test is over). Gives a Start at most once for one partial line.
    std::optional<MarkerEvent> on_partial(std::string_view partial);
    // The runner recognised so far (auto), Regex with a pattern, nullopt before any marker / none.
    std::optional<MarkerKind> kind() const noexcept { return kind_; }

private:
    MarkersSpec spec_;
    std::optional<MarkerKind> kind_;
    std::string partial_started_;  // the partial line that gave the last Start
};

}  // namespace corral
