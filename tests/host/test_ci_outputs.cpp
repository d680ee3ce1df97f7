// Host tier: what a real run gives CI systems. GitHub (GITHUB_ACTIONS=true): ::group:: blocks around
// each suite's output with --jobs 1 and none with --jobs 2, ::error annotations on stdout after the
// run, the step summary appended to $GITHUB_STEP_SUMMARY; GitLab (GITLAB_CI=true): collapsed
// sections; --ci none: nothing of either. junit.xml of the example profile and of a split run,
// validated against docs/junit.xsd with xmllint ([host-only]: the VM has no xmllint).
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace host;
using Strings = std::vector<std::string>;

namespace {

// Two suites: one passes, one fails after printing a line without its newline.
std::string two_suites(const TempDir& work) {
    write_text(work.file("ci.yaml"), "suites:\n"
                                     "  - name: good\n"
                                     "    command: 'echo good-output-1; echo good-output-2'\n"
                                     "  - name: bad\n"
                                     "    command: 'echo bad-output; printf no-newline; exit 3'\n");
    return work.file("ci.yaml");
}

// corral run under `env`, with the CI variables of this test only (CI's own are removed first).
Outcome run_in_ci(const Strings& vars, const Strings& args) {
    Strings argv{"env", "-u", "GITHUB_ACTIONS", "-u", "GITLAB_CI", "-u", "GITHUB_STEP_SUMMARY"};
    argv.insert(argv.end(), vars.begin(), vars.end());
    argv.push_back(corral_bin());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, within(60s));
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
}

// xmllint's verdict on a junit file against docs/junit.xsd ("" when it validates).
std::string xsd_problems(const std::string& file) {
    auto r = run({"xmllint", "--schema", source_dir() + "/docs/junit.xsd", "--noout", file}, within(30s));
    return r.exit_code == 0 ? "" : r.describe();
}

}  // namespace

TEST_CASE("GitHub: with --jobs 1 each suite's output is a ::group::, then an ::error a failed suite and the step summary",
          "[host][ci]") {
    HostCase hc;
    TempDir work("ci-github");
    TempDir reports("ci-github-reports");
    const std::string summary = work.file("summary.md");
    write_text(summary, "earlier step content\n");
    auto r = run_in_ci({"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + summary},
                       {"run", "--jobs", "1", "--report-dir", reports.path(), two_suites(work)});
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    // Each block holds its suite's output; a last line without its newline gets one before ::endgroup::.
    CHECK_THAT(r.out, Catch::Contains("::group::good\ngood-output-1\ngood-output-2\n::endgroup::\n"));
    CHECK_THAT(r.out, Catch::Contains("::group::bad\nbad-output\nno-newline\n::endgroup::\n"));
    CHECK(count(r.out, "::group::") == 2);
    CHECK(count(r.out, "::endgroup::") == 2);
    // The annotations come after the suites' output, one for the suite that did not pass.
    const std::string error = "::error title=corral%3A bad failed::";
    CHECK(count(r.out, error) == 1);
    CHECK(r.out.find(error) > r.out.rfind("::endgroup::"));
    CHECK(count(r.out, "::error") == 1);
    // The step summary is appended to what earlier steps wrote.
    const std::string md = read_text(summary);
    INFO(md);
    CHECK(md.rfind("earlier step content\n### corral: 2 suites, 1 passed, 1 not passed\n", 0) == 0);
    CHECK_THAT(md, Catch::Contains("| bad | **failed** |"));
    CHECK_THAT(md, Catch::Contains("| good | passed |"));
    CHECK(md.find("| bad |") < md.find("| good |"));
    hc.finish();
}

TEST_CASE("GitHub: with --jobs 2 the interleaved output has no groups, the annotations are there", "[host][ci]") {
    HostCase hc;
    TempDir work("ci-github-jobs2");
    TempDir reports("ci-github-jobs2-reports");
    auto r = run_in_ci({"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + work.file("summary.md")},
                       {"run", "--jobs", "2", "--report-dir", reports.path(), two_suites(work)});
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    CHECK(count(r.out, "::group::") == 0);
    CHECK(count(r.out, "::endgroup::") == 0);
    CHECK_THAT(r.out, Catch::Contains("[good] good-output-1"));
    CHECK(count(r.out, "::error title=corral%3A bad failed::") == 1);
    CHECK_THAT(read_text(work.file("summary.md")), Catch::Contains("| bad | **failed** |"));
    hc.finish();
}

TEST_CASE("GitLab: each suite's output in a collapsed section, no GitHub commands", "[host][ci]") {
    HostCase hc;
    TempDir work("ci-gitlab");
    TempDir reports("ci-gitlab-reports");
    auto r = run_in_ci({"GITLAB_CI=true"}, {"run", "--report-dir", reports.path(), two_suites(work)});
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    for (const std::string name : {"good", "bad"}) {
        const std::string open_tail = ":corral_" + name + "[collapsed=true]\r\x1b[0K" + name + "\n";
        const std::string close_tail = ":corral_" + name + "\r\x1b[0K\n";
        const auto open = r.out.find(open_tail);
        const auto close = r.out.find(close_tail, open == std::string::npos ? 0 : open);
        REQUIRE(open != std::string::npos);
        REQUIRE(close != std::string::npos);
        const std::string inside = r.out.substr(open + open_tail.size(), close - open - open_tail.size());
        CHECK_THAT(inside, Catch::Contains(name + "-output"));
        CHECK_THAT(inside, Catch::Contains("\n\x1b[0Ksection_end:"));  // on a line of its own
    }
    CHECK(count(r.out, "\x1b[0Ksection_start:") == 2);
    CHECK(count(r.out, "\x1b[0Ksection_end:") == 2);
    CHECK(count(r.out, "::") == 0);
    hc.finish();
}

TEST_CASE("CI output with --ci none: no groups, sections, annotations or step summary, whatever the environment says", "[host][ci]") {
    HostCase hc;
    TempDir work("ci-none");
    TempDir reports("ci-none-reports");
    auto r = run_in_ci({"GITHUB_ACTIONS=true", "GITLAB_CI=true", "GITHUB_STEP_SUMMARY=" + work.file("summary.md")},
                       {"run", "--ci", "none", "--report-dir", reports.path(), two_suites(work)});
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("good-output-1"));
    CHECK(count(r.out, "::") == 0);
    CHECK(count(r.out, "section_") == 0);
    CHECK_FALSE(std::filesystem::exists(work.file("summary.md")));
    // An unknown choice is a usage error.
    auto bad = run_in_ci({}, {"run", "--ci", "jenkins", "--report-dir", reports.path(), two_suites(work)});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("--ci"));
    hc.finish();
}

TEST_CASE("junit.xml of the example profile validates against docs/junit.xsd", "[host][ci][host-only]") {
    HostCase hc;
    hc.watch("corral-demo-hang");
    TempDir work("junit-example");
    TempDir reports("junit-example-reports");
    auto r = run_in_ci({}, {"run", "--report-dir", reports.path(), example_profile(work)});
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    const std::string junit = reports.file("junit.xml");
    const std::string xml = read_text(junit);
    INFO(xml);
    CHECK(xsd_problems(junit).empty());
    CHECK_THAT(xml, Catch::Contains("<testcase name=\"unit\" classname=\"example\""));
    CHECK_THAT(xml, Catch::Contains("type=\"oom-killed\""));
    CHECK_THAT(xml, Catch::Contains("type=\"timeout\""));
    CHECK_THAT(xml, Catch::Contains("tests=\"3\" failures=\"2\" errors=\"0\" skipped=\"0\""));
    hc.finish();
}

TEST_CASE("junit.xml of a split run: its batches are testcases of one testsuite, batches not run are skipped",
          "[host][ci][host-only]") {
    HostCase hc;
    TempDir work("junit-split");
    TempDir reports("junit-split-reports");
    for (const std::string f : {"t1.t", "t2.t", "t3.t"}) write_text(work.file(f), "exit 0\n");
    write_text(work.file("t2.t"), "echo 'failing <here> & now'; exit 5\n");
    write_text(work.file("p.yaml"), "name: p\n"
                                    "command: 'for f in \"$@\"; do sh \"$f\" || exit $?; done'\n"
                                    "workdir: .\n"
                                    "split: {items: '*.t', fail_fast: true}\n");
    auto r = run_in_ci({}, {"run", "--report-dir", reports.path(), work.file("p.yaml")});
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    const std::string junit = reports.file("junit.xml");
    const std::string xml = read_text(junit);
    INFO(xml);
    CHECK(xsd_problems(junit).empty());
    CHECK(count(xml, "<testsuite ") == 1);
    CHECK_THAT(xml, Catch::Contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
    CHECK_THAT(xml, Catch::Contains("<testcase name=\"p.1\" classname=\"p\""));
    CHECK_THAT(xml, Catch::Contains("<testcase name=\"p.2\" classname=\"p\""));
    CHECK_THAT(xml, Catch::Contains("<testcase name=\"p.3\" classname=\"p\" time=\"0.000\">\n      <skipped"));
    CHECK_THAT(xml, Catch::Contains("<system-out>failing &lt;here&gt; &amp; now\n</system-out>"));
    hc.finish();
}
