#include "corral/profile/marker_pattern.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "corral/profile/profile_yaml.hpp"

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

namespace corral::profile_yaml {

MarkersSpec read_markers(const Ctx& ctx, const Found& f) {
    MarkersSpec m;
    if (f.value.IsScalar() && (f.value.Scalar() == "auto" || f.value.Scalar() == "none")) {
        if (f.value.Scalar() == "none") m.mode = MarkersSpec::Mode::None;
        return m;
    }
    if (f.value.IsScalar())
        ctx.fail(f, unknown("markers setting", f.value.Scalar(), {"auto", "none"}) +
                        " or a map {pattern: REGEX}");
    if (!f.value.IsMap()) ctx.expected(f, "auto, none or a map {pattern: REGEX}");
    auto pattern = find(f.value, "pattern", f.path);
    if (!pattern)
        ctx.fail(f.value, join_path(f.path, "pattern"),
                 "missing key 'pattern': expected a regular expression with one capture group");
    m.mode = MarkersSpec::Mode::Pattern;
    m.pattern = ctx.scalar(*pattern, "a regular expression");
    try {
        compile_marker_pattern(m.pattern);
    } catch (const std::invalid_argument& e) {
        ctx.fail(*pattern, e.what());
    }
    return m;
}

}  // namespace corral::profile_yaml
