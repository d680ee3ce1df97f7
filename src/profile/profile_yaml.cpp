#include "corral/profile/profile_yaml.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace corral {

std::string SourceLoc::str() const {
    if (line <= 0) return file;
    return fmt::format("{}:{}:{}", file, line, column);
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

namespace profile_yaml {

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

std::optional<Found> find(const Node& map, const std::string& key, const std::string& prefix) {
    if (!map.IsMap()) return std::nullopt;
    for (const auto& kv : map)
        if (kv.first.IsScalar() && kv.first.Scalar() == key)
            return Found{kv.first, kv.second, join_path(prefix, key)};
    return std::nullopt;
}

SourceLoc Ctx::loc(const Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.is_null()) return SourceLoc{file_, 1, 1};
    return SourceLoc{file_, m.line + 1, m.column + 1};
}

void Ctx::fail(const Node& at, const std::string& path, const std::string& msg) const {
    throw ProfileError(loc(at), path, msg);
}

void Ctx::fail(const Found& f, const std::string& msg) const {
    fail(f.value.IsNull() ? f.key : f.value, f.path, msg);
}

void Ctx::expected(const Found& f, const std::string& what) const {
    fail(f, fmt::format("expected {}, found {}", what, describe(f.value)));
}

void Ctx::check_keys(const Node& map, const std::string& path, const std::vector<std::string>& known) const {
    std::map<std::string, Node> seen;
    for (const auto& kv : map) {
        if (!kv.first.IsScalar()) fail(kv.first, path, "expected a key name, found " + describe(kv.first));
        const std::string& key = kv.first.Scalar();
        if (std::find(known.begin(), known.end(), key) == known.end())
            fail(kv.first, join_path(path, key), unknown("key", key, known));
        auto [it, inserted] = seen.emplace(key, kv.first);
        if (!inserted)
            fail(kv.first, join_path(path, key),
                 fmt::format("duplicate key '{}' (first at {})", key, loc(it->second).str()));
    }
}

std::string Ctx::scalar(const Found& f, const std::string& what) const {
    if (!f.value.IsScalar()) expected(f, what);
    return f.value.Scalar();
}

bool Ctx::boolean(const Found& f) const {
    bool b = false;
    if (!f.value.IsScalar() || !YAML::convert<bool>::decode(f.value, b)) expected(f, "true or false");
    return b;
}

std::uint64_t Ctx::count(const Found& f) const {
    std::string text = scalar(f, "a positive integer");
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) expected(f, "a positive integer");
    return v;
}

double Ctx::percent(const Found& f) const {
    const char* what = "a percentage such as 150% (1.5 CPUs)";
    std::string text = scalar(f, what);
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || std::string_view(end) != "%" || !std::isfinite(v)) expected(f, what);
    return v;
}

std::vector<std::string> Ctx::argv(const Found& f) const {
    if (!f.value.IsSequence()) expected(f, "a list of arguments");
    if (f.value.size() == 0) fail(f, "empty command: expected at least one argument, found an empty list");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < f.value.size(); ++i) {
        Found arg{f.value[i], f.value[i], fmt::format("{}[{}]", f.path, i)};
        out.push_back(scalar(arg, "a string"));
    }
    if (out[0].empty())
        fail(f.value[0], f.path + "[0]", "empty command: the program name is an empty string");
    return out;
}

std::optional<Found> find_layered(const std::vector<Layer>& layers, const std::string& field) {
    const auto dot = field.find('.');
    for (const Layer& l : layers) {
        if (dot == std::string::npos) {
            if (auto f = find(l.map, field, l.prefix)) return f;
        } else if (auto section = find(l.map, field.substr(0, dot), l.prefix)) {
            if (auto f = find(section->value, field.substr(dot + 1), section->path)) return f;
        }
    }
    return std::nullopt;
}

}  // namespace profile_yaml

}  // namespace corral
