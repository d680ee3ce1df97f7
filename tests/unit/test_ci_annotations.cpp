// CI output from the report document: GitHub's workflow-command escaping, the annotations (severity
// order, GitHub's 10-a-step limit, warnings), GitLab section lines, the step summary's sparkline and
// its 1 MiB cap.
#include <catch2/catch.hpp>
#include <string>

#include "corral/base/error.hpp"
#include "corral/report/ci_annotations.hpp"
#include "corral/report/report.hpp"
#include "corral/report/step_summary.hpp"

using namespace corral;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using nlohmann::json;

namespace {

SuiteResult result(const std::string& name, Verdict v) {
    SuiteResult s;
    s.name = name;
    s.verdict = v;
    s.explanation = "why " + name;
    s.duration_s = 2;
    s.limits.memory_max = 100 << 20;
    s.peak_bytes = 50 << 20;
    return s;
}

json doc(const std::vector<SuiteResult>& suites) {
    RunReport r;
    r.backend = "cgroup-v2";
    r.started_at = "2026-11-29T17:28:39Z";
    r.host = "h";
    r.suites = suites;
    return report_to_json(r);
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t b = 0;
    for (std::size_t e; (e = text.find('\n', b)) != std::string::npos; b = e + 1) out.push_back(text.substr(b, e - b));
    return out;
}

}  // namespace

TEST_CASE("GitHub workflow commands: % CR LF escaped in data, and : , too in a property", "[ci]") {
    CHECK(github_escape_data("50% of\r\nit: a, b") == "50%25 of%0D%0Ait: a, b");
    CHECK(github_escape_property("corral: unit, 50%\n") == "corral%3A unit%2C 50%25%0A");
}

TEST_CASE("CI choice: --ci auto reads GITHUB_ACTIONS and GITLAB_CI (only 'true' counts), an explicit choice wins", "[ci]") {
    CHECK(resolve_ci("auto", "true", nullptr) == CiSystem::GitHub);
    CHECK(resolve_ci("auto", nullptr, "true") == CiSystem::GitLab);
    CHECK(resolve_ci("auto", "false", "1") == CiSystem::None);
    CHECK(resolve_ci("auto", nullptr, nullptr) == CiSystem::None);
    CHECK(resolve_ci("none", "true", "true") == CiSystem::None);
    CHECK(resolve_ci("gitlab", "true", nullptr) == CiSystem::GitLab);
    CHECK(resolve_ci("github", nullptr, nullptr) == CiSystem::GitHub);
    CHECK_THROWS_AS(resolve_ci("jenkins", nullptr, nullptr), UsageError);
}

TEST_CASE("CI log blocks: GitHub groups and GitLab's collapsed sections with a name of [A-Za-z0-9_.-] only", "[ci]") {
    CHECK(ci_group_start(CiSystem::GitHub, "unit", 17) == "::group::unit\n");
    CHECK(ci_group_end(CiSystem::GitHub, "unit", 17) == "::endgroup::\n");
    CHECK(ci_group_start(CiSystem::GitLab, "e2e.1", 1700000000) ==
          "\x1b[0Ksection_start:1700000000:corral_e2e.1[collapsed=true]\r\x1b[0Ke2e.1\n");
    CHECK(ci_group_end(CiSystem::GitLab, "e2e.1", 1700000009) == "\x1b[0Ksection_end:1700000009:corral_e2e.1\r\x1b[0K\n");
    CHECK(gitlab_section_name("a b/c:d_e.f-g") == "a_b_c_d_e.f-g");
    CHECK(ci_group_start(CiSystem::None, "unit", 1).empty());
    CHECK(ci_group_end(CiSystem::None, "unit", 1).empty());
}

TEST_CASE("annotations: an ::error per suite that did not pass, the most severe first, title and message escaped", "[ci]") {
    SuiteResult f = result("lint", Verdict::Failed);
    f.explanation = "Exited 1: 50% done\nnext";
    const std::string out = render_github_annotations(
        doc({f, result("unit", Verdict::Passed), result("oom", Verdict::OomKilled), result("hang", Verdict::Timeout),
             result("boot", Verdict::LaunchError)}));
    CHECK(lines(out) == std::vector<std::string>{
                            "::error title=corral%3A boot launch-error::why boot",
                            "::error title=corral%3A oom oom-killed::why oom",
                            "::error title=corral%3A hang timeout::why hang",
                            "::error title=corral%3A lint failed::Exited 1: 50%25 done%0Anext",
                        });
    CHECK(verdict_severity("launch-error") < verdict_severity("oom-killed"));
    CHECK(verdict_severity("signaled") < verdict_severity("failed"));
    CHECK(verdict_severity("failed") < verdict_severity("passed"));
    CHECK_THROWS_AS(verdict_severity("bogus"), Error);
    CHECK(render_github_annotations(doc({result("unit", Verdict::Passed)})).empty());
}

TEST_CASE("annotations: GitHub shows 10 a step, so the 11th and later are one ::warning with their count", "[ci]") {
    std::vector<SuiteResult> suites;
    for (int i = 0; i < 13; ++i) suites.push_back(result("f" + std::to_string(i), Verdict::Failed));
    suites.push_back(result("oom", Verdict::OomKilled));  // last in the run, first by severity
    const auto ls = lines(render_github_annotations(doc(suites)));
    REQUIRE(ls.size() == 11);
    CHECK(ls[0] == "::error title=corral%3A oom oom-killed::why oom");
    for (int i = 1; i < 10; ++i) CHECK_THAT(ls[static_cast<std::size_t>(i)], StartsWith("::error title=corral%3A f"));
    CHECK(ls[10] == "::warning title=corral::4 more suites did not pass (GitHub shows 10 annotations a step): the step "
                    "summary and report.json list them all");
}

TEST_CASE("annotations: ::warning for a suite that passed while thrashing and for processes left behind", "[ci]") {
    SuiteResult left = result("daemon", Verdict::Passed);
    left.left_behind_count = 7;
    left.left_behind.push_back(ProcInfo{41, 1, 'S', "", 0, 0, "sleep", "sleep 100"});
    json d = doc({result("thrash", Verdict::Passed), left, result("oom", Verdict::OomKilled)});
    d["suites"][0]["memory"]["pressure"]["summary"] = {
        {"thrashing", true}, {"worst_full_percent", 42.0}, {"worst_window_s", 10.0}, {"worst_start_s", 3.5}};
    d["suites"][2]["memory"]["pressure"]["summary"] = {{"thrashing", true}};  // did not pass: its ::error says it
    const auto ls = lines(render_github_annotations(d));
    REQUIRE(ls.size() == 3);
    CHECK(ls[0] == "::error title=corral%3A oom oom-killed::why oom");
    CHECK_THAT(ls[1], StartsWith("::warning title=corral%3A thrash thrashing::passed, but its memory was thrashing"));
    CHECK_THAT(ls[1], Contains("42%25 of a 10 s window from t=3.5 s"));
    // ':' stays as it is in the data, and becomes %3A in the title.
    CHECK(ls[2] == "::warning title=corral%3A daemon left processes behind::7 processes still ran in its box when its "
                   "main process exited (corral ended them): sleep (pid 41) and 6 more");
}

TEST_CASE("annotations: warnings past what GitHub shows end in one line with their count", "[ci]") {
    std::vector<SuiteResult> suites;
    for (int i = 0; i < 11; ++i) suites.push_back(result("f" + std::to_string(i), Verdict::Failed));
    for (int i = 0; i < 12; ++i) {
        SuiteResult s = result("d" + std::to_string(i), Verdict::Passed);
        s.left_behind_count = 1;
        suites.push_back(s);
    }
    const auto ls = lines(render_github_annotations(doc(suites)));
    std::size_t errors = 0, warnings = 0;
    for (const auto& l : ls) (l.rfind("::error", 0) == 0 ? errors : warnings)++;
    CHECK(errors == 10);
    CHECK(warnings == 10);
    CHECK(ls.back() == "::warning title=corral::4 more warnings (thrashing, processes left behind): report.json has them");
}

TEST_CASE("sparkline: the curve in ▁..█ scaled to the top, a slice without a sample repeating the one before", "[ci]") {
    CHECK(sparkline({}, 10).empty());
    CHECK(sparkline({{0, 0}, {1, 7}, {2, 14}, {3, 21}, {4, 28}, {5, 35}, {6, 42}, {7, 49}}, 49, 8) == "▁▂▃▄▅▆▇█");
    CHECK(sparkline({{0, 10}, {10, 10}}, 0, 4) == "████");  // top 0: the largest point
    CHECK(sparkline({{0, 10}, {10, 10}}, 40, 4) == "▃▃▃▃");  // a quarter of the limit
    CHECK(sparkline({{0, 40}, {10, 0}}, 40, 5) == "████▁");
    // A suite's curve from its report: history buckets (their maximum) and recent samples.
    json s;
    s["memory"]["history"] = json::array({json::array({0.0, 2.0, 0, 100, 50})});
    s["memory"]["samples"] = json::array({json::array({3.0, 200, "x"}), json::array({2.5, 150, "y"})});
    const auto curve = memory_curve(s);
    REQUIRE(curve.size() == 3);
    CHECK(curve[0] == std::pair<double, std::uint64_t>{1.0, 100});
    CHECK(curve[1] == std::pair<double, std::uint64_t>{2.5, 150});
    CHECK(curve[2] == std::pair<double, std::uint64_t>{3.0, 200});
}

TEST_CASE("step summary: a markdown row per suite, the most severe first, cells escaped", "[ci]") {
    SuiteResult f = result("lint", Verdict::Failed);
    f.explanation = "a | b <script> `c` *d*\nnext";
    f.samples.append(0.0, 10 << 20, "");
    f.samples.append(1.0, 100 << 20, "");
    const std::string md = render_step_summary_markdown(doc({result("unit", Verdict::Passed), f}));
    INFO(md);
    CHECK_THAT(md, StartsWith("### corral: 2 suites, 1 passed, 1 not passed\n"));
    CHECK_THAT(md, Contains("| suite | verdict | duration | peak / limit | memory | explanation |\n|---|---|---|---|---|---|\n"
                            "| lint | **failed** | 2s | 50 MiB / 100 MiB (50%) | `"));
    CHECK_THAT(md, Contains("| a \\| b &lt;script&gt; \\`c\\` \\*d\\* next |"));
    CHECK_THAT(md, Contains("| unit | passed | 2s | 50 MiB / 100 MiB (50%) | n/a | why unit |"));
    CHECK(md.find("| lint") < md.find("| unit"));
    CHECK(markdown_cell("\xC3\xA9\xC3\xA9\xC3\xA9", 6) == "\xC3\xA9\xE2\x80\xA6");
}

TEST_CASE("step summary: kept under GitHub's 1 MiB, the rows that do not fit counted in a last line", "[ci]") {
    std::vector<SuiteResult> suites;
    for (int i = 0; i < 5000; ++i) {
        SuiteResult s = result("suite-" + std::to_string(i), i % 2 ? Verdict::Passed : Verdict::Failed);
        s.explanation = std::string(1000, 'x');
        suites.push_back(s);
    }
    const std::string md = render_step_summary_markdown(doc(suites));
    CHECK(md.size() <= kStepSummaryMaxBytes);
    CHECK(kStepSummaryMaxBytes < 1024 * 1024);
    CHECK_THAT(md, Contains("more suites are left out to keep this summary under"));
    CHECK_THAT(md, Contains("| suite-0 | **failed**"));  // the failed ones come first
    CHECK(md.find("| passed |") == std::string::npos);
}
