// What in the suite used the memory (issue 12), on a real pytest project (tests/pysuite) run with
// Debian's interpreter: a per-test leak, one spiking test, a worker OOM-killed under pytest-xdist.
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "harness.hpp"

using namespace host;
using namespace std::chrono_literals;

namespace {

constexpr double MiB = 1024.0 * 1024.0;

// A profile running `pytest ARGS` in tests/pysuite with Debian's python3 (its python3-* packages).
std::string pytest_profile(const std::string& name, const std::string& args, const std::string& memory_max,
                           const std::string& extra = "") {
    return "name: " + name + "\n" +
           "command: \"/usr/bin/python3 -m pytest -p no:cacheprovider " + args + "\"\n" +
           "workdir: " + source_dir() + "/tests/pysuite\n" +
           "env: {PYTHONDONTWRITEBYTECODE: '1'}\n" +
           "memory: {max: " + memory_max + "}\n" +
           "timeout: 300s\n" + extra;
}

}  // namespace

TEST_CASE("pytest with a per-test leak of 2 MiB: memory.growth says steady, about 2 MiB per test",
          "[host][diagnosis][pytest]") {
    HostCase hc;
    TempDir work("diag-leak");
    TempDir reports("diag-leak-reports");
    write_text(work.file("leak.yaml"), pytest_profile("leak", "-v leak", "512M"));
    auto r = run_corral({"run", "--report-dir", reports.path(), work.file("leak.yaml")}, within(320s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "leak");
    const Json& g = field(s, "/memory/growth");
    INFO(g.dump(2));
    CHECK(str(g, "/marker_kind") == "pytest");
    CHECK(num(g, "/markers") == 64);
    CHECK(str(g, "/pattern") == "steady");
    const double per = num(g, "/per_marker_bytes");
    CHECK(std::fabs(per - 2 * MiB) <= 0.3 * 2 * MiB);
    CHECK(num(g, "/r2") >= 0.8);
    CHECK(field(g, "/top").size() == 10);
    CHECK_THAT(str(g, "/top/0/marker"), Catch::StartsWith("leak/test_leak.py::test_compute["));
    // The sentence is in the explanation and the human summary.
    CHECK_THAT(str(s, "/explanation"), Catch::Contains(str(g, "/summary")));
    CHECK_THAT(r.out + r.err, Catch::Contains(str(g, "/summary")));
    hc.finish();
}

TEST_CASE("pytest with one test that loads 160 MiB and drops it: memory.growth says spike and names it",
          "[host][diagnosis][pytest]") {
    HostCase hc;
    TempDir work("diag-spike");
    TempDir reports("diag-spike-reports");
    write_text(work.file("spike.yaml"), pytest_profile("spike", "-v spike", "512M"));
    auto r = run_corral({"run", "--report-dir", reports.path(), work.file("spike.yaml")}, within(320s));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& g = field(suite(report, "spike"), "/memory/growth");
    INFO(g.dump(2));
    CHECK(num(g, "/markers") == 21);
    CHECK(str(g, "/pattern") == "spike");
    CHECK(str(g, "/top/0/marker") == "spike/test_spike.py::test_load_dataset");
    CHECK(num(g, "/top/0/grew_bytes") >= 150 * MiB);
    CHECK(std::fabs(num(g, "/top/0/net_bytes")) < 40 * MiB);  // dropped at its end
    CHECK_THAT(str(g, "/summary"), Catch::Contains("spike/test_spike.py::test_load_dataset"));
    hc.finish();
}

TEST_CASE("pytest -n 2 under a limit: the explanation quotes the line printed when the worker was killed, "
          "not the run's last line",
          "[host][diagnosis][pytest][oom]") {
    HostCase hc;
    TempDir work("diag-xdist");
    TempDir reports("diag-xdist-reports");
    write_text(work.file("xdist.yaml"), pytest_profile("xdist", "-n 2 -v files", "200M"));
    auto r = run_corral({"run", "--report-dir", reports.path(), work.file("xdist.yaml")}, within(320s));
    INFO(r.describe());
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "xdist");
    CHECK(str(s, "/verdict") == "oom-killed");
    const std::string out = suite_stdout(s, reports.path());
    INFO("stdout:\n" << out);
    REQUIRE(field(s, "/oom/records").size() >= 1);
    const std::string at_kill = str(s, "/oom/line_at_first_kill");
    CHECK(str(s, "/oom/records/0/line_at_kill") == at_kill);
    // The run went on after the kill (xdist replaced the worker) and ended with its summary line …
    const std::string last = str(s, "/last_line");
    CHECK_THAT(last, Catch::Contains("failed"));
    CHECK(at_kill != last);
    // … but the explanation quotes what was printed when the kill came: a line before xdist saw its
    // worker go down.
    CHECK_THAT(str(s, "/explanation"), Catch::Contains(at_kill.substr(0, 60)));
    const auto at = out.find(at_kill), down = out.find("node down");
    CHECK(at != std::string::npos);
    CHECK(down != std::string::npos);
    CHECK(at < down);
    hc.finish();
}

TEST_CASE("split of the pytest project: each file alone under 200M, the one OOM-killed alone is named and "
          "ranked first",
          "[host][diagnosis][pytest][split]") {
    HostCase hc;
    TempDir work("diag-split");
    TempDir reports("diag-split-reports");
    write_text(work.file("split.yaml"),
               pytest_profile("files", "-q \\\"$@\\\"", "200M", "split: {items: 'files/**/test_*.py'}\n"));
    auto r = run_corral({"run", "--report-dir", reports.path(), "--jobs", "2", work.file("split.yaml")},
                        within(320s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    // Five files, five batches files.1 … files.5 in sorted order (a string command gets its batch's
    // items as "$@"): test_c_big.py is the third.
    for (int k = 1; k <= 5; ++k) {
        const Json& b = suite(report, "files." + std::to_string(k));
        INFO("batch " << k);
        CHECK(str(b, "/verdict") == (k == 3 ? "oom-killed" : "passed"));
        CHECK(num(b, "/split/index") == k);
        CHECK(str(b, "/split/of") == "files");
    }
    CHECK(str(suite(report, "files.3"), "/split/items/0") == "files/test_c_big.py");
    const Json& splits = field(report, "/splits");
    REQUIRE(splits.size() == 1);
    CHECK(num(splits[0], "/batches") == 5);
    CHECK(num(splits[0], "/verdicts/oom-killed") == 1);
    CHECK(num(splits[0], "/verdicts/passed") == 4);
    CHECK(num(splits[0], "/ranking/0/index") == 3);
    CHECK(str(splits[0], "/ranking/0/items/0") == "files/test_c_big.py");
    CHECK_THAT(r.out + r.err, Catch::Contains("files/test_c_big.py"));
    hc.finish();
}
