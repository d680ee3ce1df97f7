#include "corral/profile/profile.hpp"

#include <fmt/format.h>
#include <strings.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "corral/base/fd.hpp"
#include "corral/profile/marker_pattern.hpp"
#include "corral/profile/split.hpp"

namespace corral {

std::string SourceLoc::str() const {
    if (line <= 0) return file;
    return fmt::format("{}:{}:{}", file, line, column);
}

std::string backend_choice_name(BackendChoice b) {
    switch (b) {
        case BackendChoice::Auto:
            return "auto";
        case BackendChoice::Cgroup:
            return "cgroup";
        case BackendChoice::SystemdScope:
            return "systemd-scope";
    }
    return "auto";
}

BackendChoice parse_backend_choice(const std::string& name) {
    for (BackendChoice b : {BackendChoice::Auto, BackendChoice::Cgroup, BackendChoice::SystemdScope})
        if (backend_choice_name(b) == name) return b;
    throw UsageError("unknown backend '" + name + "' (expected auto, cgroup or systemd-scope)");
}

namespace {
std::string located(const SourceLoc& loc, const std::string& key, const std::string& message) {
    return loc.str() + ": " + (key.empty() ? "" : key + ": ") + message;
}
}  // namespace

ProfileError::ProfileError(SourceLoc loc, std::string key, const std::string& message)
    : UsageError(located(loc, key, message)), loc_(std::move(loc)), key_(std::move(key)), message_(message) {}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i + 1;
        for (std::size_t j = 0; j < b.size(); ++j) {
            std::size_t above = row[j + 1];
            row[j + 1] = std::min({above + 1, row[j] + 1, diagonal + (a[i] == b[j] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string suggest_key(const std::string& key, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_distance = 3;  // only suggestions within distance 2
    for (const std::string& candidate : known) {
        std::size_t d = edit_distance(key, candidate);
        if (d < best_distance && d < key.size()) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr Duration kMinSampleInterval = std::chrono::milliseconds(10);

// A semantic problem of a suite: the field ("memory.high") and what is wrong with it.
struct Problem {
    std::string field;
    std::string message;
};

bool valid_name(const std::string& name) {
    auto ok = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
    };
    // "." and ".." would name the parent cgroup, not a new one.
    return !name.empty() && name.size() <= kMaxNameLength && std::all_of(name.begin(), name.end(), ok) &&
           name != "." && name != "..";
}

// The checks shared by profiles (which add a location) and the command line (validate_suite).
std::optional<Problem> find_problem(const SuiteSpec& s) {
    const Limits& l = s.limits;
    if (!valid_name(s.name))
        return Problem{"name",
                       fmt::format("expected a name of 1 to {} letters, digits, '.', '_' or '-', found '{}'",
                                   kMaxNameLength, s.name)};
    if (s.argv.empty() || s.argv[0].empty())
        return Problem{"command", "empty command: there is nothing to run"};
    if (s.workdir && s.workdir->empty())
        return Problem{"workdir", "expected a directory, found an empty string"};
    for (const auto& [field, value] :
         {std::pair{"memory.max", l.memory_max}, {"memory.high", l.memory_high}}) {
        if (value == 0u) return Problem{field, "must be greater than 0 (use infinity for no limit), found 0"};
    }
    if (l.memory_high && l.memory_max && *l.memory_high != kInfinity && *l.memory_high > *l.memory_max)
        return Problem{"memory.high", fmt::format("{} is above memory.max ({})", format_bytes(*l.memory_high),
                                                  format_bytes(*l.memory_max))};
    if (l.tasks_max == 0u) return Problem{"tasks_max", "expected a positive integer, found 0"};
    if (l.cpu_quota_percent) {
        try {
            cpu_quota_from_percent(*l.cpu_quota_percent);
        } catch (const std::invalid_argument& e) {
            return Problem{"cpu.quota", e.what()};
        }
    }
    if (s.timeout && s.timeout->count() <= 0)
        return Problem{"timeout", "must be greater than 0 (use infinity for no limit), found " +
                                      format_duration(*s.timeout)};
    if (s.kill_grace.count() < 0)
        return Problem{"kill_grace", "must not be negative, found " + format_duration(s.kill_grace)};
    if (s.sample_interval < kMinSampleInterval)
        return Problem{"sample_interval",
                       fmt::format("must be at least {}, found {}", format_duration(kMinSampleInterval),
                                   format_duration(s.sample_interval))};
    if (!s.on_timeout.empty() && s.on_timeout[0].empty())
        return Problem{"on_timeout", "empty command: there is nothing to run"};
    if (!s.on_timeout.empty() && s.on_timeout_limit.count() <= 0)
        return Problem{"on_timeout.timeout",
                       "must be greater than 0, found " + format_duration(s.on_timeout_limit)};
    return std::nullopt;
}

}  // namespace

void validate_suite(const SuiteSpec& s) {
    if (auto p = find_problem(s)) throw UsageError(p->field + ": " + p->message);
}

namespace {

using YAML::Node;

const std::vector<std::string> kSuiteKeys = {
    "name",    "command",    "workdir",         "env",     "env_clear",  "memory", "tasks_max", "cpu",
    "timeout", "kill_grace", "sample_interval", "backend", "on_timeout", "markers",   "split"};
const std::vector<std::string> kMemoryKeys = {"max", "high", "swap_max", "oom_group"};
const std::vector<std::string> kCpuKeys = {"quota"};
const std::vector<std::string> kOnTimeoutKeys = {"command", "timeout"};
const std::vector<std::string> kMarkersKeys = {"pattern"};
const std::vector<std::string> kSplitKeys = {"items", "batch", "fail_fast"};
const std::vector<std::string> kTopKeys = {"defaults", "suites"};

std::string join_path(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
}

std::string describe(const Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar: {
            const std::string& text = n.Scalar();
            return text.size() > 60 ? "'" + text.substr(0, 57) + "...'" : "'" + text + "'";
        }
        default:
            return "nothing";
    }
}

std::string unknown(const std::string& what, const std::string& value,
                    const std::vector<std::string>& known) {
    std::string hint = suggest_key(value, known);
    if (!hint.empty()) return fmt::format("unknown {} '{}' (did you mean '{}'?)", what, value, hint);
    return fmt::format("unknown {} '{}' (expected one of: {})", what, value, fmt::join(known, ", "));
}

std::string shell_quote(const std::string& arg) {
    static constexpr std::string_view kSafe =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%_-+=:,./";
    if (!arg.empty() && arg.find_first_not_of(kSafe) == std::string::npos) return arg;
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// A value found in the profile: its key node (located even when the value is empty), the value and its path.
struct Found {
    Node key;
    Node value;
    std::string path;
};

// The first entry `key` of a map node, with its path below `prefix`.
std::optional<Found> find(const Node& map, const std::string& key, const std::string& prefix) {
    if (!map.IsMap()) return std::nullopt;
    for (const auto& kv : map)
        if (kv.first.IsScalar() && kv.first.Scalar() == key)
            return Found{kv.first, kv.second, join_path(prefix, key)};
    return std::nullopt;
}

// Turns nodes into values, throwing ProfileError at the offending node.
class Ctx {
public:
    explicit Ctx(std::string file) : file_(std::move(file)) {}

    const std::string& file() const { return file_; }

    SourceLoc loc(const Node& n) const {
        const YAML::Mark m = n.Mark();
        if (m.is_null()) return SourceLoc{file_, 1, 1};
        return SourceLoc{file_, m.line + 1, m.column + 1};
    }
    [[noreturn]] void fail(const Node& at, const std::string& path, const std::string& msg) const {
        throw ProfileError(loc(at), path, msg);
    }
    // An empty value has no position of its own (yaml-cpp marks the next line): point at its key.
    [[noreturn]] void fail(const Found& f, const std::string& msg) const {
        fail(f.value.IsNull() ? f.key : f.value, f.path, msg);
    }
    [[noreturn]] void expected(const Found& f, const std::string& what) const {
        fail(f, fmt::format("expected {}, found {}", what, describe(f.value)));
    }

    // Rejects unknown and repeated keys of a map node.
    void check_keys(const Node& map, const std::string& path, const std::vector<std::string>& known) const {
        std::map<std::string, Node> seen;
        for (const auto& kv : map) {
            if (!kv.first.IsScalar())
                fail(kv.first, path, "expected a key name, found " + describe(kv.first));
            const std::string& key = kv.first.Scalar();
            if (std::find(known.begin(), known.end(), key) == known.end())
                fail(kv.first, join_path(path, key), unknown("key", key, known));
            auto [it, inserted] = seen.emplace(key, kv.first);
            if (!inserted)
                fail(kv.first, join_path(path, key),
                     fmt::format("duplicate key '{}' (first at {})", key, loc(it->second).str()));
        }
    }

    std::string scalar(const Found& f, const std::string& what) const {
        if (!f.value.IsScalar()) expected(f, what);
        return f.value.Scalar();
    }
    bool boolean(const Found& f) const {
        bool b = false;
        if (!f.value.IsScalar() || !YAML::convert<bool>::decode(f.value, b)) expected(f, "true or false");
        return b;
    }
    std::uint64_t count(const Found& f) const {
        std::string text = scalar(f, "a positive integer");
        std::uint64_t v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size()) expected(f, "a positive integer");
        return v;
    }
    double percent(const Found& f) const {
        const char* what = "a percentage such as 150% (1.5 CPUs)";
        std::string text = scalar(f, what);
        double v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || std::string_view(end) != "%" || !std::isfinite(v)) expected(f, what);
        return v;
    }
    std::uint64_t size(const Found& f) const { return convert(f, "a size", parse_size); }
    Duration duration(const Found& f) const { return convert(f, "a duration", parse_duration); }

    std::vector<std::string> argv(const Found& f) const {
        if (!f.value.IsSequence()) expected(f, "a list of arguments");
        if (f.value.size() == 0)
            fail(f, "empty command: expected at least one argument, found an empty list");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < f.value.size(); ++i) {
            Found arg{f.value[i], f.value[i], fmt::format("{}[{}]", f.path, i)};
            out.push_back(scalar(arg, "a string"));
        }
        if (out[0].empty())
            fail(f.value[0], f.path + "[0]", "empty command: the program name is an empty string");
        return out;
    }

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

// Reads one suite from its layers (its own map first, then defaults), each key taken from the first
// layer that has it; the sections memory, cpu and env merge key by key.
class SuiteReader {
public:
    // Checks the keys of the first layer only: the defaults behind it were checked when read on their own.
    SuiteReader(const Ctx& ctx, std::vector<Layer> layers) : ctx_(ctx), layers_(std::move(layers)) {
        check_layer(layers_.front());
    }

    // `partial`: the defaults alone, checked for types but not for required keys or consistency.
    SuiteSpec read(bool partial, const std::string& default_name) {
        SuiteSpec s;
        const Layer& own = layers_.front();
        s.where = ctx_.loc(own.map);
        if (!field("name", [&](const Found& f) { s.name = ctx_.scalar(f, "a suite name"); })) {
            s.name = default_name;
            if (s.name.empty() && !partial)
                ctx_.fail(own.map, join_path(own.prefix, "name"),
                          "missing key 'name': every suite in a 'suites' list needs one");
        }
        if (!field("command", [&](const Found& f) { read_command(f, s); }) && !partial)
            ctx_.fail(own.map, join_path(own.prefix, "command"),
                      "missing key 'command': expected a string (run by /bin/sh -c) or a list of arguments");
        field("workdir", [&](const Found& f) { s.workdir = ctx_.scalar(f, "a directory"); });
        read_env(s);
        field("env_clear", [&](const Found& f) { s.env_clear = ctx_.boolean(f); });
        field("memory.max", [&](const Found& f) { s.limits.memory_max = ctx_.size(f); });
        field("memory.high", [&](const Found& f) { s.limits.memory_high = ctx_.size(f); });
        field("memory.swap_max", [&](const Found& f) { s.limits.swap_max = ctx_.size(f); });
        field("memory.oom_group", [&](const Found& f) { s.limits.oom_group = ctx_.boolean(f); });
        field("tasks_max", [&](const Found& f) { s.limits.tasks_max = ctx_.count(f); });
        field("cpu.quota", [&](const Found& f) { s.limits.cpu_quota_percent = ctx_.percent(f); });
        field("timeout", [&](const Found& f) {
            if (f.value.IsScalar() && ::strcasecmp(f.value.Scalar().c_str(), "infinity") == 0)
                s.timeout.reset();
            else
                s.timeout = ctx_.duration(f);
        });
        field("kill_grace", [&](const Found& f) { s.kill_grace = ctx_.duration(f); });
        field("sample_interval", [&](const Found& f) { s.sample_interval = ctx_.duration(f); });
        field("backend", [&](const Found& f) { s.backend = read_backend(f); });
        field("on_timeout", [&](const Found& f) { read_on_timeout(f, s); });
        field("markers", [&](const Found& f) { s.markers = read_markers(f); });
        field("split", [&](const Found& f) { split_ = read_split(f); });
        if (partial) return s;

        if (auto p = find_problem(s)) {
            auto it = origin_.find(p->field);
            if (it != origin_.end()) ctx_.fail(it->second, p->message);
            ctx_.fail(own.map, join_path(own.prefix, p->field), p->message);
        }
        if (s.workdir) s.workdir = resolve_workdir(*s.workdir);
        return s;
    }

private:
    void check_layer(const Layer& l) const {
        ctx_.check_keys(l.map, l.prefix, kSuiteKeys);
        for (const auto& [section, keys] : {std::pair{"memory", &kMemoryKeys}, {"cpu", &kCpuKeys}}) {
            if (auto f = find(l.map, section, l.prefix)) {
                if (!f->value.IsMap()) ctx_.expected(*f, fmt::format("a map of {}", fmt::join(*keys, ", ")));
                ctx_.check_keys(f->value, f->path, *keys);
            }
        }
        if (auto f = find(l.map, "env", l.prefix); f && !f->value.IsMap())
            ctx_.expected(*f, "a map of variable names to values");
        if (auto f = find(l.map, "on_timeout", l.prefix); f && f->value.IsMap())
            ctx_.check_keys(f->value, f->path, kOnTimeoutKeys);
        if (auto f = find(l.map, "markers", l.prefix); f && f->value.IsMap())
            ctx_.check_keys(f->value, f->path, kMarkersKeys);
        if (auto f = find(l.map, "split", l.prefix); f && f->value.IsMap()) ctx_.check_keys(f->value, f->path, kSplitKeys);
    }

    // The first layer's value of a field ("timeout" or "memory.max").
    std::optional<Found> get(const std::string& field) const {
        const auto dot = field.find('.');
        for (const Layer& l : layers_) {
            if (dot == std::string::npos) {
                if (auto f = find(l.map, field, l.prefix)) return f;
            } else if (auto section = find(l.map, field.substr(0, dot), l.prefix)) {
                if (auto f = find(section->value, field.substr(dot + 1), section->path)) return f;
            }
        }
        return std::nullopt;
    }

    // Applies `read` to the field's value, if any, and remembers where it came from.
    template <class Read>
    bool field(const std::string& name, Read read) {
        auto f = get(name);
        if (!f) return false;
        origin_[name] = *f;
        read(*f);
        return true;
    }

    void read_command(const Found& f, SuiteSpec& s) const {
        if (f.value.IsScalar()) {
            s.command_text = f.value.Scalar();
            if (s.command_text.find_first_not_of(" \t\r\n") == std::string::npos)
                ctx_.fail(f, "empty command: expected a command line, found an empty string");
            s.argv = {"/bin/sh", "-c", s.command_text};
            s.shell = true;
            return;
        }
        if (!f.value.IsSequence()) ctx_.expected(f, "a string (run by /bin/sh -c) or a list of arguments");
        s.argv = ctx_.argv(f);
        s.shell = false;
        s.command_text = quote_argv(s.argv);
    }

    // env merges variable by variable, the suite's own values winning over defaults.
    void read_env(SuiteSpec& s) const {
        for (auto l = layers_.rbegin(); l != layers_.rend(); ++l) {
            auto env = find(l->map, "env", l->prefix);
            if (!env) continue;
            for (const auto& kv : env->value) {
                if (!kv.first.IsScalar())
                    ctx_.fail(kv.first, env->path, "expected a variable name, found " + describe(kv.first));
                const std::string& name = kv.first.Scalar();
                const Found var{kv.first, kv.second, join_path(env->path, name)};
                if (name.empty() || name.find('=') != std::string::npos)
                    ctx_.fail(kv.first, var.path,
                              fmt::format("expected a variable name without '=', found '{}'", name));
                s.env[name] = ctx_.scalar(var, "a string");
            }
        }
    }

    BackendChoice read_backend(const Found& f) const {
        std::string value = ctx_.scalar(f, "a backend name");
        std::vector<std::string> names;
        for (BackendChoice b : {BackendChoice::Auto, BackendChoice::Cgroup, BackendChoice::SystemdScope}) {
            if (backend_choice_name(b) == value) return b;
            names.push_back(backend_choice_name(b));
        }
        ctx_.fail(f, unknown("backend", value, names));
    }

    // markers: auto | none | {pattern: REGEX with one capture group}
    MarkersSpec read_markers(const Found& f) const {
        MarkersSpec m;
        if (f.value.IsScalar() && (f.value.Scalar() == "auto" || f.value.Scalar() == "none")) {
            if (f.value.Scalar() == "none") m.mode = MarkersSpec::Mode::None;
            return m;
        }
        if (f.value.IsScalar())
            ctx_.fail(f, unknown("markers setting", f.value.Scalar(), {"auto", "none"}) +
                             " or a map {pattern: REGEX}");
        if (!f.value.IsMap()) ctx_.expected(f, "auto, none or a map {pattern: REGEX}");
        auto pattern = find(f.value, "pattern", f.path);
        if (!pattern)
            ctx_.fail(f.value, join_path(f.path, "pattern"),
                      "missing key 'pattern': expected a regular expression with one capture group");
        m.mode = MarkersSpec::Mode::Pattern;
        m.pattern = ctx_.scalar(*pattern, "a regular expression");
        try {
            compile_marker_pattern(m.pattern);
        } catch (const std::invalid_argument& e) {
            ctx_.fail(*pattern, e.what());
        }
        return m;
    }

    void read_on_timeout(const Found& f, SuiteSpec& s) {
        if (f.value.IsSequence()) {
            s.on_timeout = ctx_.argv(f);
            return;
        }
        if (!f.value.IsMap()) ctx_.expected(f, "a list of arguments or a map {command: [...], timeout: 10s}");
        auto command = find(f.value, "command", f.path);
        if (!command)
            ctx_.fail(f.value, join_path(f.path, "command"),
                      "missing key 'command': expected a list of arguments");
        s.on_timeout = ctx_.argv(*command);
        if (auto limit = find(f.value, "timeout", f.path)) {
            origin_["on_timeout.timeout"] = *limit;
            s.on_timeout_limit = ctx_.duration(*limit);
        }
    }

    // split: {items: GLOB | [list] | {from: FILE}, batch: N, fail_fast: bool}
    SplitRequest read_split(const Found& f) const {
        if (!f.value.IsMap()) ctx_.expected(f, "a map {items: GLOB | [list] | {from: FILE}, batch: N, fail_fast: bool}");
        SplitRequest req;
        const auto items = find(f.value, "items", f.path);
        if (!items)
            ctx_.fail(f.value, join_path(f.path, "items"), "missing key 'items': expected a glob, a list or {from: FILE}");
        req.key = items->path;
        req.where = ctx_.loc(items->value.IsNull() ? items->key : items->value);
        if (items->value.IsSequence()) {
            req.kind = SplitRequest::Kind::List;
            for (std::size_t i = 0; i < items->value.size(); ++i) {
                const Found item{items->value[i], items->value[i], fmt::format("{}[{}]", items->path, i)};
                req.list.push_back(ctx_.scalar(item, "an item (a string)"));
                if (req.list.back().empty()) ctx_.fail(item, "expected an item, found an empty string");
            }
        } else if (items->value.IsMap()) {
            ctx_.check_keys(items->value, items->path, {"from"});
            const auto from = find(items->value, "from", items->path);
            if (!from) ctx_.fail(items->value, join_path(items->path, "from"), "missing key 'from': expected a file of items");
            req.kind = SplitRequest::Kind::From;
            req.from = ctx_.scalar(*from, "a file name");
            if (req.from.empty()) ctx_.fail(*from, "expected a file name, found an empty string");
            req.key = from->path;
            req.where = ctx_.loc(from->value);
        } else {
            req.pattern = ctx_.scalar(*items, "a glob, a list of items or {from: FILE}");
            if (req.pattern.empty()) ctx_.fail(*items, "expected a glob such as 'tests/**/test_*.py', found an empty string");
        }
        if (const auto batch = find(f.value, "batch", f.path)) {
            req.batch = ctx_.count(*batch);
            if (req.batch == 0) ctx_.fail(*batch, "expected a positive integer, found 0");
        }
        if (const auto fail_fast = find(f.value, "fail_fast", f.path)) req.fail_fast = ctx_.boolean(*fail_fast);
        return req;
    }

    std::string resolve_workdir(const std::string& dir) const {
        namespace fs = std::filesystem;
        if (fs::path(dir).is_absolute()) return dir;
        fs::path resolved = fs::absolute(fs::path(ctx_.file()).parent_path() / dir).lexically_normal();
        if (!resolved.has_filename() && resolved.has_relative_path())
            resolved = resolved.parent_path();  // "a/"
        return resolved.string();
    }

    const Ctx& ctx_;
    std::vector<Layer> layers_;
    std::map<std::string, Found> origin_;  // field -> where its value came from
    std::optional<SplitRequest> split_;

public:
    // The suite, or the batches its `split` makes of it: items resolved against its workdir (corral's
    // working directory without one, where the command then runs), a `from` file against the profile's directory.
    std::vector<SuiteSpec> read_split_suites(const std::string& default_name) {
        SuiteSpec s = read(false, default_name);
        if (!split_) return {std::move(s)};
        const std::string dir = s.workdir ? *s.workdir : std::filesystem::current_path().string();
        const std::string profile_dir = std::filesystem::absolute(ctx_.file()).parent_path().string();
        return expand_split(s, resolve_split_items(*split_, dir, profile_dir), split_->batch, split_->fail_fast);
    }
};

// Throws when `s` reuses a name already in `seen` (name -> where first defined).
void check_unique(const SuiteSpec& s, const std::string& key, std::map<std::string, SourceLoc>& seen) {
    auto [it, inserted] = seen.emplace(s.name, s.where);
    if (!inserted)
        throw ProfileError(
            s.where, key,
            fmt::format("duplicate suite name '{}' (first defined at {})", s.name, it->second.str()));
}

std::vector<SuiteSpec> parse_suites(const Ctx& ctx, const Node& root) {
    for (const auto& kv : root) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
        if (std::find(kSuiteKeys.begin(), kSuiteKeys.end(), key) != kSuiteKeys.end())
            ctx.fail(
                kv.first, key,
                fmt::format(
                    "'{}' is a suite setting: in a file with 'suites', put it under 'defaults' or in a suite",
                    key));
    }
    ctx.check_keys(root, "", kTopKeys);

    std::vector<Layer> defaults;
    if (auto d = find(root, "defaults", "")) {
        if (!d->value.IsMap()) ctx.expected(*d, "a map of suite settings");
        if (auto name = find(d->value, "name", d->path))
            ctx.fail(name->key, name->path, "'defaults' may not set 'name': every suite names itself");
        defaults.push_back(Layer{d->value, d->path});
        SuiteReader(ctx, defaults).read(true, "");
    }
    const auto list = find(root, "suites", "");
    if (!list->value.IsSequence()) ctx.expected(*list, "a list of suites");
    if (list->value.size() == 0) ctx.fail(*list, "expected at least one suite, found an empty list");

    std::vector<SuiteSpec> suites;
    std::map<std::string, SourceLoc> seen;
    for (std::size_t i = 0; i < list->value.size(); ++i) {
        const Node item = list->value[i];
        const std::string prefix = fmt::format("suites[{}]", i);
        if (!item.IsMap()) ctx.expected(Found{item, item, prefix}, "a map of suite settings");
        std::vector<Layer> layers{Layer{item, prefix}};
        layers.insert(layers.end(), defaults.begin(), defaults.end());
        for (SuiteSpec& s : SuiteReader(ctx, std::move(layers)).read_split_suites("")) {
            check_unique(s, prefix + ".name", seen);
            suites.push_back(std::move(s));
        }
    }
    return suites;
}

}  // namespace

std::vector<SuiteSpec> parse_profile(const std::string& text, const std::string& filename) {
    const Ctx ctx(filename);
    std::vector<Node> docs;
    try {
        docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        throw ProfileError(SourceLoc{filename, e.mark.line + 1, e.mark.column + 1}, "", e.msg);
    }
    if (docs.empty() || docs[0].IsNull())
        throw ProfileError(SourceLoc{filename, 1, 1}, "",
                           "the profile is empty: expected suite settings (name, command, ...) or 'suites:'");
    if (docs.size() > 1)
        ctx.fail(docs[1], "", fmt::format("expected one YAML document, found {}", docs.size()));
    const Node& root = docs[0];
    if (!root.IsMap())
        ctx.expected(Found{root, root, ""}, "a map of suite settings or 'suites:' at the top level");

    if (find(root, "suites", "")) return parse_suites(ctx, root);
    if (auto d = find(root, "defaults", ""))
        ctx.fail(d->key, d->path, "'defaults' needs a 'suites' list beside it");
    const std::string stem = std::filesystem::path(filename).stem().string();
    return SuiteReader(ctx, {Layer{root, ""}}).read_split_suites(stem);
}

std::vector<SuiteSpec> load_profile(const std::string& path) {
    std::string text;
    try {
        text = read_file(path);
    } catch (const SysError& e) {
        throw ProfileError(SourceLoc{path}, "", "cannot read the profile: " + errno_text(e.code()));
    }
    return parse_profile(text, path);
}

std::vector<SuiteSpec> load_profiles(const std::vector<std::string>& paths) {
    std::vector<SuiteSpec> all;
    std::map<std::string, SourceLoc> seen;
    for (const std::string& path : paths) {
        for (SuiteSpec& s : load_profile(path)) {
            check_unique(s, "name", seen);
            all.push_back(std::move(s));
        }
    }
    return all;
}

std::string quote_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
    return out;
}

std::string join_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
    return out;
}

}  // namespace corral
