#include "corral/profile/profile.hpp"

#include <fmt/format.h>
#include <strings.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "corral/base/fd.hpp"
#include "corral/profile/profile_yaml.hpp"
#include "corral/profile/split.hpp"

namespace corral {

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

constexpr std::size_t kMaxNameLength = 64;
constexpr Duration kMinSampleInterval = std::chrono::milliseconds(10);
constexpr Duration kMinStallTimeout = std::chrono::seconds(1);

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
    if (s.stall_timeout && *s.stall_timeout < kMinStallTimeout)
        return Problem{"stall_timeout",
                       fmt::format("must be at least {} (use infinity for none), found {}",
                                   format_duration(kMinStallTimeout), format_duration(*s.stall_timeout))};
    if (s.stall_timeout && *s.stall_timeout < 2 * s.sample_interval)
        return Problem{"stall_timeout",
                       fmt::format("must be at least twice the sample_interval of {} (CPU time is read with each "
                                   "sample), found {}",
                                   format_duration(s.sample_interval), format_duration(*s.stall_timeout))};
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

using namespace profile_yaml;

const std::vector<std::string> kSuiteKeys = {
    "name",    "command",    "workdir",         "env",     "env_clear",  "memory", "tasks_max", "cpu",
    "timeout", "stall_timeout", "kill_grace", "sample_interval", "backend", "on_timeout", "markers", "split"};
const std::vector<std::string> kMemoryKeys = {"max", "high", "swap_max", "oom_group"};
const std::vector<std::string> kCpuKeys = {"quota"};
const std::vector<std::string> kOnTimeoutKeys = {"command", "timeout"};
const std::vector<std::string> kMarkersKeys = {"pattern"};
const std::vector<std::string> kSplitKeys = {"items", "batch", "fail_fast"};
const std::vector<std::string> kTopKeys = {"defaults", "suites"};

std::string shell_quote(const std::string& arg) {
    static constexpr std::string_view kSafe =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%_-+=:,./";
    if (!arg.empty() && arg.find_first_not_of(kSafe) == std::string::npos) return arg;
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

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
        if (!field("command", [&](const Found& f) { read_command(ctx_, f, s); }) && !partial)
            ctx_.fail(own.map, join_path(own.prefix, "command"),
                      "missing key 'command': expected a string (run by /bin/sh -c) or a list of arguments");
        field("workdir", [&](const Found& f) { s.workdir = ctx_.scalar(f, "a directory"); });
        read_env(ctx_, layers_, s);
        field("env_clear", [&](const Found& f) { s.env_clear = ctx_.boolean(f); });
        field("memory.max", [&](const Found& f) { s.limits.memory_max = ctx_.size(f); });
        field("memory.high", [&](const Found& f) { s.limits.memory_high = ctx_.size(f); });
        field("memory.swap_max", [&](const Found& f) { s.limits.swap_max = ctx_.size(f); });
        field("memory.oom_group", [&](const Found& f) { s.limits.oom_group = ctx_.boolean(f); });
        field("tasks_max", [&](const Found& f) { s.limits.tasks_max = ctx_.count(f); });
        field("cpu.quota", [&](const Found& f) { s.limits.cpu_quota_percent = ctx_.percent(f); });
        field("timeout", [&](const Found& f) { s.timeout = read_time_limit(ctx_, f); });
        field("stall_timeout", [&](const Found& f) { s.stall_timeout = read_time_limit(ctx_, f); });
        field("kill_grace", [&](const Found& f) { s.kill_grace = ctx_.duration(f); });
        field("sample_interval", [&](const Found& f) { s.sample_interval = ctx_.duration(f); });
        field("backend", [&](const Found& f) { s.backend = read_backend(ctx_, f); });
        field("on_timeout", [&](const Found& f) { read_on_timeout(ctx_, f, s, origin_); });
        field("markers", [&](const Found& f) { s.markers = read_markers(ctx_, f); });
        field("split", [&](const Found& f) { split_ = read_split(ctx_, f); });
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

    // Applies `read` to the field's value, if any, and remembers where it came from.
    template <class Read>
    bool field(const std::string& name, Read read) {
        auto f = find_layered(layers_, name);
        if (!f) return false;
        origin_[name] = *f;
        read(*f);
        return true;
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
            s.profile = path;
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