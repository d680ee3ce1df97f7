// What corral tells a CI system, rendered from the report document (the JSON that report.json
// holds): GitHub Actions workflow commands (::error / ::warning annotations, ::group:: blocks) and
// GitLab CI collapsible sections around each suite's output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace corral {

enum class CiSystem { None, GitHub, GitLab };

// `--ci auto|github|gitlab|none`. auto: GITHUB_ACTIONS=true is GitHub, else GITLAB_CI=true is GitLab,
// else none (the variables as read from the environment, nullptr when unset). Throws UsageError for
// another choice.
CiSystem resolve_ci(std::string_view choice, const char* github_actions, const char* gitlab_ci);
std::string ci_name(CiSystem ci);  // "github", "gitlab", "none"

// GitHub's workflow-command escaping: in data (after "::") % CR LF become %25 %0D %0A; in a property
// value (title=…) also : and , become %3A and %2C.
std::string github_escape_data(std::string_view text);
std::string github_escape_property(std::string_view text);

// A GitLab section name: GitLab takes [A-Za-z0-9_.-] only; any other byte becomes '_'.
std::string gitlab_section_name(std::string_view name);

// The line that opens / closes a suite's output in the CI log ("" for CiSystem::None):
//   GitHub: "::group::SUITE\n" / "::endgroup::\n"
//   GitLab: "\e[0Ksection_start:TS:corral_SUITE[collapsed=true]\r\e[0KSUITE\n" /
//           "\e[0Ksection_end:TS:corral_SUITE\r\e[0K\n"
std::string ci_group_start(CiSystem ci, std::string_view suite, std::int64_t unix_ts);
std::string ci_group_end(CiSystem ci, std::string_view suite, std::int64_t unix_ts);

// Verdicts from the most severe (0) on, in decide_verdict's priority: launch-error, oom-killed,
// timeout, interrupted, signaled, failed, passed. Throws Error for an unknown one.
int verdict_severity(const std::string& verdict);

// GitHub shows at most this many error (and warning) annotations of a step.
inline constexpr std::size_t kGithubAnnotationsShown = 10;

// The run's annotations, one workflow command a line: "::error title=corral: SUITE VERDICT::EXPLANATION"
// for each suite that did not pass, the most severe first; past kGithubAnnotationsShown one
// ::warning says how many more did not pass. Then ::warning lines for suites that passed while
// thrashing (memory.pressure.summary.thrashing) and for processes left behind (left_behind.count),
// again at most kGithubAnnotationsShown warnings in all, the last one saying how many more.
std::string render_github_annotations(const nlohmann::json& report);

}  // namespace corral
