// The user's marker pattern (`markers: {pattern: REGEX}`, `corral run --markers REGEX`): compiled and
// checked here, where the profile is read, and used by report/markers.
#pragma once

#include <regex>
#include <string>

#include "corral/profile/profile.hpp"

namespace corral {

// Compiles a marker pattern with std::regex (ECMAScript). Throws std::invalid_argument saying what
// is wrong: the engine's own error, or how many capture groups it has when that is not exactly one
// (the group is the marker's name).
std::regex compile_marker_pattern(const std::string& pattern);

// `--markers auto|none|REGEX` of the command line. Throws UsageError naming the flag.
MarkersSpec parse_markers_flag(const std::string& value);

// "auto", "none" or "pattern /REGEX/" (for `corral check`).
std::string describe_markers(const MarkersSpec& spec);

}  // namespace corral
