#include "corral/report/ci_annotations.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "corral/base/error.hpp"

namespace corral {

using nlohmann::json;

CiSystem resolve_ci(std::string_view choice, const char* github_actions, const char* gitlab_ci) {
    if (choice == "github") return CiSystem::GitHub;
    if (choice == "gitlab") return CiSystem::GitLab;
    if (choice == "none") return CiSystem::None;
    if (choice != "auto")
        throw UsageError(fmt::format("--ci '{}': expected auto, github, gitlab or none", choice));
    if (github_actions && std::strcmp(github_actions, "true") == 0) return CiSystem::GitHub;
    if (gitlab_ci && std::strcmp(gitlab_ci, "true") == 0) return CiSystem::GitLab;
    return CiSystem::None;
}

std::string ci_name(CiSystem ci) {
    switch (ci) {
        case CiSystem::GitHub: return "github";
        case CiSystem::GitLab: return "gitlab";
        case CiSystem::None: return "none";
    }
    return "none";
}

std::string github_escape_data(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '%': out += "%25"; break;
            case '\r': out += "%0D"; break;
            case '\n': out += "%0A"; break;
            default: out += c;
        }
    }
    return out;
}

std::string github_escape_property(std::string_view text) {
    std::string out;
    for (char c : github_escape_data(text)) {
        switch (c) {
            case ':': out += "%3A"; break;
            case ',': out += "%2C"; break;
            default: out += c;
        }
    }
    return out;
}

std::string gitlab_section_name(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '-';
        if (!ok) c = '_';
    }
    return out;
}

std::string ci_group_start(CiSystem ci, std::string_view suite, std::int64_t unix_ts) {
    switch (ci) {
        case CiSystem::GitHub:
            return fmt::format("::group::{}\n", github_escape_data(suite));
        case CiSystem::GitLab:
            return fmt::format("\x1b[0Ksection_start:{}:{}[collapsed=true]\r\x1b[0K{}\n", unix_ts,
                               gitlab_section_name(fmt::format("corral_{}", suite)), suite);
        case CiSystem::None:
            return "";
    }
    return "";
}

std::string ci_group_end(CiSystem ci, std::string_view suite, std::int64_t unix_ts) {
    switch (ci) {
        case CiSystem::GitHub:
            return "::endgroup::\n";
        case CiSystem::GitLab:
            return fmt::format("\x1b[0Ksection_end:{}:{}\r\x1b[0K\n", unix_ts,
                               gitlab_section_name(fmt::format("corral_{}", suite)));
        case CiSystem::None:
            return "";
    }
    return "";
}

int verdict_severity(const std::string& verdict) {
    static const char* const kOrder[] = {"launch-error", "oom-killed", "timeout", "interrupted",
                                         "signaled",     "failed",     "passed"};
    for (int i = 0; i < static_cast<int>(std::size(kOrder)); ++i)
        if (verdict == kOrder[i]) return i;
    throw Error("the report has an unknown verdict '" + verdict + "'");
}

namespace {

std::string annotation(const char* kind, const std::string& title, const std::string& message) {
    return fmt::format("::{} title={}::{}\n", kind, github_escape_property(title), github_escape_data(message));
}

// "python3 (pid 412), sleep (pid 413)" and how many more.
std::string processes_text(const json& left) {
    std::vector<std::string> parts;
    for (const json& p : left.value("processes", json::array()))
        parts.push_back(fmt::format("{} (pid {})", p.value("comm", "?"), p.value("pid", 0)));
    const std::size_t count = left.value("count", std::size_t{0});
    std::string out = fmt::format("{}", fmt::join(parts, ", "));
    if (count > parts.size()) out += fmt::format(" and {} more", count - parts.size());
    return out;
}

}  // namespace

std::string render_github_annotations(const json& report) {
    struct Failed {
        const json* suite;
        int severity;
    };
    std::vector<Failed> failed;
    std::vector<std::string> warnings;
    for (const json& s : report.at("suites")) {
        const std::string verdict = s.at("verdict").get<std::string>();
        const std::string name = s.at("name").get<std::string>();
        if (verdict != "passed") failed.push_back({&s, verdict_severity(verdict)});
        const json& summary = s.at("memory").at("pressure").at("summary");
        if (verdict == "passed" && summary.is_object() && summary.value("thrashing", false))
            warnings.push_back(annotation(
                "warning", fmt::format("corral: {} thrashing", name),
                fmt::format("passed, but its memory was thrashing: processes stalled on memory {:.0f}% of a {:.0f} s "
                            "window from t={:.1f} s (memory.pressure full); it is close to its memory limit",
                            summary.value("worst_full_percent", 0.0), summary.value("worst_window_s", 0.0),
                            summary.value("worst_start_s", 0.0))));
        const json& left = s.at("left_behind");
        if (left.value("count", 0) > 0)
            warnings.push_back(annotation(
                "warning", fmt::format("corral: {} left processes behind", name),
                fmt::format("{} process{} still ran in its box when its main process exited (corral ended them): {}",
                            left.value("count", 0), left.value("count", 0) == 1 ? "" : "es", processes_text(left))));
    }
    std::stable_sort(failed.begin(), failed.end(), [](const Failed& a, const Failed& b) { return a.severity < b.severity; });
    std::string out;
    const std::size_t shown = std::min(failed.size(), kGithubAnnotationsShown);
    for (std::size_t i = 0; i < shown; ++i) {
        const json& s = *failed[i].suite;
        out += annotation("error", fmt::format("corral: {} {}", s.at("name").get<std::string>(), s.at("verdict").get<std::string>()),
                          s.at("explanation").get<std::string>());
    }
    std::size_t warnings_left = kGithubAnnotationsShown;
    if (failed.size() > shown) {
        out += annotation("warning", "corral",
                          fmt::format("{} more suites did not pass (GitHub shows {} annotations a step): the step "
                                      "summary and report.json list them all",
                                      failed.size() - shown, kGithubAnnotationsShown));
        --warnings_left;
    }
    if (warnings.size() > warnings_left) {
        const std::size_t more = warnings.size() - (warnings_left - 1);
        warnings.resize(warnings_left - 1);
        warnings.push_back(annotation(
            "warning", "corral", fmt::format("{} more warnings (thrashing, processes left behind): report.json has them", more)));
    }
    for (const auto& w : warnings) out += w;
    return out;
}

}  // namespace corral
