#include "corral/profile/marker_pattern.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace corral {

std::regex compile_marker_pattern(const std::string& pattern) {
    if (pattern.empty()) throw std::invalid_argument("expected a regular expression, found an empty string");
    std::regex re;
    try {
        re.assign(pattern, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
        throw std::invalid_argument(
            fmt::format("'{}' is not a regular expression (std::regex, ECMAScript): {}", pattern, e.what()));
    }
    if (re.mark_count() != 1)
        throw std::invalid_argument(
            fmt::format("'{}' has {} capture groups, expected exactly one: the group is the marker's name "
                        "(write other groups as (?:...))",
                        pattern, re.mark_count()));
    return re;
}

MarkersSpec parse_markers_flag(const std::string& value) {
    MarkersSpec spec;
    if (value == "auto") return spec;
    if (value == "none") {
        spec.mode = MarkersSpec::Mode::None;
        return spec;
    }
    try {
        compile_marker_pattern(value);
    } catch (const std::invalid_argument& e) {
        throw UsageError(
            fmt::format("--markers: expected auto, none or a regular expression with one "
                        "capture group; {}",
                        e.what()));
    }
    spec.mode = MarkersSpec::Mode::Pattern;
    spec.pattern = value;
    return spec;
}

std::string describe_markers(const MarkersSpec& spec) {
    switch (spec.mode) {
        case MarkersSpec::Mode::Auto:
            return "auto";
        case MarkersSpec::Mode::None:
            return "none";
        case MarkersSpec::Mode::Pattern:
            return "pattern " + spec.pattern;
    }
    return "auto";
}

}  // namespace corral
