// Profiles: the YAML schema, parsing and validation with located errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "corral/base/error.hpp"
#include "corral/profile/quantities.hpp"

namespace corral {

struct SourceLoc {
    std::string file;
    int line = 0;    // 1-based; 0 = unknown
    int column = 0;  // 1-based
    std::string str() const;  // "file:line:column" (or "file" when line is unknown)
};

// Cgroup limits. Unset = no limit requested. Sizes may be kInfinity.
struct Limits {
    std::optional<std::uint64_t> memory_max;
    std::optional<std::uint64_t> memory_high;
    std::optional<std::uint64_t> swap_max;
    std::optional<std::uint64_t> tasks_max;
    std::optional<double> cpu_quota_percent;  // 150 = 1.5 cores
    bool oom_group = false;                   // memory.oom_group (cgroup v2 only)
};

// The profile's `markers` key: auto-detect the test runner (default), a pattern whose one capture
// group is the marker's name (`markers: {pattern: REGEX}`), or none (`markers: none`).
struct MarkersSpec {
    enum class Mode { Auto, None, Pattern };
    Mode mode = Mode::Auto;
    std::string pattern;
};

// One batch of a `split` suite (profile/split.hpp): the suite `<of>.<index>` runs these items.
struct SplitBatch {
    std::string of;                  // the suite that was split
    std::size_t index = 0;           // 1-based
    std::size_t batches = 0;         // how many batches the suite was split into
    std::vector<std::string> items;  // appended to its command
    bool fail_fast = false;          // a failed batch keeps the batches not yet started from running
};

enum class BackendChoice { Auto, Cgroup, SystemdScope };
std::string backend_choice_name(BackendChoice b);  // "auto" | "cgroup" | "systemd-scope"
BackendChoice parse_backend_choice(const std::string& name);  // throws UsageError for other names

struct SuiteSpec {
    std::string name;                    // [A-Za-z0-9._-]+, unique within a run
    std::vector<std::string> argv;       // what is exec'd; a string command becomes {"/bin/sh","-c",text}
    std::string command_text;            // the command as written (for reports)
    bool shell = false;                  // the command was a string, run by /bin/sh -c
    std::optional<std::string> workdir;  // relative paths are resolved against the profile's directory
    std::map<std::string, std::string> env;
    bool env_clear = false;
    Limits limits;
    std::optional<Duration> timeout;  // unset = no wall-clock limit
    // No output and no CPU time in the whole tree for this long ends the suite as a stalled timeout
    // (unset = never).
    std::optional<Duration> stall_timeout;
    Duration kill_grace = std::chrono::seconds(10);
    Duration sample_interval = std::chrono::milliseconds(100);
    BackendChoice backend = BackendChoice::Auto;
    std::vector<std::string> on_timeout;                   // argv run before the first SIGTERM on timeout
    Duration on_timeout_limit = std::chrono::seconds(10);  // how long on_timeout may run
    MarkersSpec markers;                                   // test boundaries in the output
    std::optional<SplitBatch> split;                       // a batch of a `split` suite
    SourceLoc where;                                       // where the suite is defined
    std::string profile;  // the profile file as given on the command line; "" for the ad-hoc suite
};

// A profile error: "file:line:col: key: message". Exit status 2.
class ProfileError : public UsageError {
public:
    ProfileError(SourceLoc loc, std::string key, const std::string& message);
    const SourceLoc& loc() const noexcept { return loc_; }
    const std::string& key() const noexcept { return key_; }
    const std::string& message() const noexcept { return message_; }

private:
    SourceLoc loc_;
    std::string key_;
    std::string message_;
};

// Parses YAML text. `filename` is used in messages and to resolve relative workdirs.
// One suite per file (keys at the top level) or `defaults:` + `suites:` (a list of maps;
// defaults merged in, nested maps such as memory merged key by key, the suite's keys winning).
std::vector<SuiteSpec> parse_profile(const std::string& text, const std::string& filename);
// Reads and parses a file; an unreadable file is a ProfileError naming the file and errno text.
std::vector<SuiteSpec> load_profile(const std::string& path);
// Loads several profiles, rejecting duplicate suite names across all of them
// ("duplicate suite name 'x' (first defined at a.yaml:3:5)").
std::vector<SuiteSpec> load_profiles(const std::vector<std::string>& paths);

// Checks a suite built elsewhere (the ad-hoc command line): name charset, empty command,
// memory.high above memory.max, zero where it makes no sense. Throws UsageError.
void validate_suite(const SuiteSpec& s);

// argv quoted for a POSIX shell where needed ("pytest -k 'a b'"), joined by spaces.
std::string quote_argv(const std::vector<std::string>& argv);

// argv joined by single spaces, unquoted (for people: reports, `check`).
std::string join_argv(const std::vector<std::string>& argv);

// Nearest known key within edit distance 2, or "" (for "did you mean …?").
std::string suggest_key(const std::string& key, const std::vector<std::string>& known);

}  // namespace corral
