// Internal to src/profile: reading profile YAML with located errors. The context that turns yaml-cpp
// nodes into values (Ctx), the layers of a suite (its own map, then defaults) and the readers of the
// suite keys that have a shape of their own. Not for later stages: they see SuiteSpec only.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "corral/profile/profile.hpp"
#include "corral/profile/quantities.hpp"
#include "corral/profile/split.hpp"

namespace corral::profile_yaml {

using YAML::Node;

// "prefix.key", or "key" without a prefix.
std::string join_path(const std::string& prefix, const std::string& key);

// A node for a message: "a map", "a list", "nothing" or the scalar quoted (cut at 60 characters).
std::string describe(const Node& n);

// "unknown WHAT 'value' (did you mean '…'?)", or the list of what is known.
std::string unknown(const std::string& what, const std::string& value, const std::vector<std::string>& known);

// A value found in the profile: its key node (located even when the value is empty), the value and its path.
struct Found {
    Node key;
    Node value;
    std::string path;
};

// The first entry `key` of a map node, with its path below `prefix`.
std::optional<Found> find(const Node& map, const std::string& key, const std::string& prefix);

// Turns nodes into values, throwing ProfileError at the offending node.
class Ctx {
public:
    explicit Ctx(std::string file) : file_(std::move(file)) {}

    const std::string& file() const { return file_; }

    SourceLoc loc(const Node& n) const;
    [[noreturn]] void fail(const Node& at, const std::string& path, const std::string& msg) const;
    // An empty value has no position of its own (yaml-cpp marks the next line): point at its key.
    [[noreturn]] void fail(const Found& f, const std::string& msg) const;
    [[noreturn]] void expected(const Found& f, const std::string& what) const;

    // Rejects unknown and repeated keys of a map node.
    void check_keys(const Node& map, const std::string& path, const std::vector<std::string>& known) const;

    std::string scalar(const Found& f, const std::string& what) const;
    bool boolean(const Found& f) const;
    std::uint64_t count(const Found& f) const;
    double percent(const Found& f) const;
    std::uint64_t size(const Found& f) const { return convert(f, "a size", parse_size); }
    Duration duration(const Found& f) const { return convert(f, "a duration", parse_duration); }

    std::vector<std::string> argv(const Found& f) const;

private:
    template <class Parse>
    std::invoke_result_t<Parse, std::string_view> convert(const Found& f, const char* what,
                                                          Parse parse) const {
        std::string text = scalar(f, what);
        try {
            return parse(text);
        } catch (const std::invalid_argument& e) {
            fail(f, fmt::format("{}, found '{}'", e.what(), text));
        }
    }

    std::string file_;
};

// A suite's own map, or the defaults merged under it.
struct Layer {
    Node map;
    std::string prefix;  // "", "suites[2]" or "defaults"
};

// The first layer's value of a field ("timeout" or "memory.max").
std::optional<Found> find_layered(const std::vector<Layer>& layers, const std::string& field);

// The readers of suite keys (suite_keys.cpp, marker_pattern.cpp, split.cpp).

// command: a string (run by /bin/sh -c) or a list of arguments; sets argv, command_text and shell.
void read_command(const Ctx& ctx, const Found& f, SuiteSpec& s);
// env merges variable by variable, the suite's own values winning over defaults.
void read_env(const Ctx& ctx, const std::vector<Layer>& layers, SuiteSpec& s);
BackendChoice read_backend(const Ctx& ctx, const Found& f);
// timeout, stall_timeout: a duration, or infinity (nullopt: no limit).
std::optional<Duration> read_time_limit(const Ctx& ctx, const Found& f);
// on_timeout: [argv] or {command: [argv], timeout: D}; records where on_timeout.timeout came from.
void read_on_timeout(const Ctx& ctx, const Found& f, SuiteSpec& s, std::map<std::string, Found>& origin);
// markers: auto | none | {pattern: REGEX with one capture group}
MarkersSpec read_markers(const Ctx& ctx, const Found& f);
// split: {items: GLOB | [list] | {from: FILE}, batch: N, fail_fast: bool}
SplitRequest read_split(const Ctx& ctx, const Found& f);

}  // namespace corral::profile_yaml
