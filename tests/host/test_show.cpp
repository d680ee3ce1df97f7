// Host tier: `corral show` reads a run's report.json back — the summary it prints is the one the run
// printed, also from a copy of the report directory moved elsewhere (a CI artifact), and
// --format json prints the document as the run wrote it.
#include <catch2/catch.hpp>
#include <filesystem>

#include "harness.hpp"

using namespace host;
namespace fs = std::filesystem;

namespace {

// The summary at the end of `corral run`'s stderr: from its "corral: N suites" line on (a blank line
// before it separates it from what came before, if anything did).
std::string run_summary(const std::string& err) {
    const std::string text = "\n" + err;
    const auto at = text.rfind("\n\ncorral: ");
    if (at == std::string::npos) return "";
    return text.substr(at + 2);
}

// 15 suites: 13 pass (on the summary's one line: "13 passed; largest peak …"), one exits 3 and one is
// OOM-killed (both printed in full).
std::string many_suites_profile(const TempDir& dir) {
    std::string yaml = "defaults:\n  memory: {max: 64M}\n  timeout: 60s\nsuites:\n";
    for (int i = 1; i <= 13; ++i) yaml += "  - {name: s" + std::to_string(i) + ", command: [true]}\n";
    yaml += "  - {name: fails, command: 'echo bad; exit 3'}\n";
    yaml += "  - {name: oom, command: [" + prog("alloc") + ", '256'], memory: {max: 32M}}\n";
    const std::string path = dir.file("many.yaml");
    write_text(path, yaml);
    return path;
}

}  // namespace

TEST_CASE("show: the summary of `corral run DIR` and of `corral show DIR` are the same, byte for byte",
          "[host][show]") {
    HostCase hc;
    TempDir work("show");
    TempDir reports("show-reports");
    auto r = run_corral({"run", "--jobs", "2", "--report-dir", reports.path(), many_suites_profile(work)}, within(120s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    const std::string printed = run_summary(r.err);
    REQUIRE_FALSE(printed.empty());
    CHECK_THAT(printed, Catch::StartsWith("corral: 15 suites in "));
    CHECK_THAT(printed, Catch::Contains("\n  13 passed; "));
    CHECK_THAT(printed, Catch::Contains("\n  fails  failed "));
    CHECK_THAT(printed, Catch::Contains("\n  oom    oom-killed "));
    CHECK_THAT(printed, !Catch::Contains("\n  s1 "));
    CHECK_THAT(printed, Catch::EndsWith("13 passed, 2 not passed — report: " + reports.path() + "/report.json\n"));
    load_report(reports.path());  // the document matches docs/report-schema.json

    auto shown = run_corral({"show", reports.path()});
    INFO(shown.describe());
    CHECK(shown.exit_code == 0);
    CHECK(shown.err.empty());
    CHECK(shown.out == printed);
    hc.finish();
}

TEST_CASE("show: a copy of the report directory moved elsewhere is read the same, and --format json "
          "prints the document as written",
          "[host][show]") {
    HostCase hc;
    TempDir reports("show-moved");
    auto r = run_corral(adhoc(reports.path(), {"--name", "tiny", "--memory-max", "16M"}, {prog("alloc"), "64"}));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    const Json report = load_report(reports.path());
    CHECK(str(suite(report, "tiny"), "/verdict") == "oom-killed");
    const std::string printed = run_summary(r.err);
    REQUIRE_FALSE(printed.empty());

    // An artifact: the directory copied to another machine's path, the original gone.
    TempDir elsewhere("show-artifact");
    const std::string moved = elsewhere.file("ci-artifact");
    fs::copy(reports.path(), moved, fs::copy_options::recursive);
    fs::remove_all(reports.path());
    std::string expected = printed;
    const std::string old_path = reports.path() + "/report.json";
    REQUIRE(expected.find(old_path) != std::string::npos);
    expected.replace(expected.find(old_path), old_path.size(), moved + "/report.json");

    auto by_dir = run_corral({"show", moved});
    INFO(by_dir.describe());
    CHECK(by_dir.exit_code == 0);
    CHECK(by_dir.out == expected);
    auto by_file = run_corral({"show", moved + "/report.json", "--format", "text"});
    CHECK(by_file.out == expected);

    auto as_json = run_corral({"show", moved, "--format", "json"});
    INFO(as_json.describe());
    CHECK(as_json.exit_code == 0);
    CHECK(as_json.out == read_text(moved + "/report.json"));
    CHECK(Json::parse(as_json.out) == report);

    // The other outputs, from the artifact alone: the same bytes the run wrote beside report.json.
    auto files = run_corral({"show", moved, "--html", elsewhere.file("page.html"), "--junit", elsewhere.file("j.xml"),
                             "--format", "markdown"});
    INFO(files.describe());
    CHECK(files.exit_code == 0);
    CHECK(read_text(elsewhere.file("page.html")) == read_text(moved + "/report.html"));
    CHECK(read_text(elsewhere.file("j.xml")) == read_text(moved + "/junit.xml"));
    CHECK_THAT(files.out, Catch::Contains("| tiny | **oom-killed** |"));

    // What cannot be shown: exit status 2, the reason on stderr, nothing on stdout.
    auto missing = run_corral({"show", reports.path()});
    CHECK(missing.exit_code == 2);
    CHECK(missing.out.empty());
    CHECK_THAT(missing.err, Catch::Contains(reports.path() + ": No such file or directory"));
    write_text(elsewhere.file("next.json"), "{\"schema\": \"corral-report/2\"}");
    auto unknown = run_corral({"show", elsewhere.file("next.json")});
    CHECK(unknown.exit_code == 2);
    CHECK_THAT(unknown.err, Catch::Contains("unknown report schema \"corral-report/2\": this corral reads corral-report/1 only"));
    hc.finish();
}
