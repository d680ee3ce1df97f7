// Issue 12's two defects: an OOM storm whose records lack their header (the kernel rate-limits it)
// must not be called "ancestor"; the explanation quotes the line printed at the kill, not the last.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace host;
using namespace std::chrono_literals;

TEST_CASE("an OOM storm beside a suite killed once by its own limit: every record own or unknown with a "
          "reason, never ancestor",
          "[host][oom][records][storm]") {
    HostCase hc;
    TempDir work("oomstorm");
    const std::string profile = work.file("storm.yaml");
    // A mutation-runner-like suite: a worker per mutation, each lingering with 2 MiB, under 64M: the
    // kernel kills worker after worker (110 kills), far more than the ~10 per 5 s that get their header.
    // Beside it, a suite that goes over its own 128M once, in the middle of the storm.
    write_text(profile,
               "suites:\n"
               "  - name: storm\n"
               "    command: [" + prog("oomstorm") + ", '110', '2']\n"
               "    memory: {max: 64M}\n"
               "    timeout: 120s\n"
               "  - name: single\n"
               "    command: [" + prog("oomstorm") + ", '0', '256', '1500']\n"
               "    memory: {max: 128M}\n"
               "    timeout: 120s\n");
    TempDir reports("oomstorm-reports");
    auto r = run_corral({"run", "--report-dir", reports.path(), "--jobs", "2", profile}, within(150s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));

    std::size_t without_header = 0, own = 0, unknown = 0;
    for (const char* name : {"storm", "single"}) {
        INFO("suite " << name);
        const Json& s = suite(report, name);
        CHECK(str(s, "/verdict") == "oom-killed");
        const Json& records = field(s, "/oom/records");
        std::size_t headerless_here = 0;
        for (const auto& rec : records) {
            INFO(rec.dump());
            const std::string whose = str(rec, "/whose_limit");
            CHECK((whose == "own" || whose == "unknown"));
            CHECK_FALSE(str(rec, "/whose_limit_reason").empty());
            if (!rec["header"].get<bool>()) {
                ++headerless_here;
                CHECK(str(rec, "/oom_memcg").empty());
            }
            own += whose == "own";
            unknown += whose == "unknown";
        }
        CHECK(num(s, "/oom/records_without_header") == static_cast<double>(headerless_here));
        without_header += headerless_here;
        // The explanation never blames an ancestor, nor quotes an empty path.
        CHECK_THAT(str(s, "/explanation"), !Catch::Contains("ancestor") && !Catch::Contains("()"));
    }
    const Json& storm = suite(report, "storm");
    CHECK(num(storm, "/oom/kills") >= 100);
    // Most of the storm's records came, each tied to the storm (none to the single suite).
    CHECK(field(storm, "/oom/records").size() >= 90);
    const Json& single = suite(report, "single");
    CHECK(num(single, "/oom/kills") == 1);
    REQUIRE(field(single, "/oom/records").size() == 1);
    CHECK(num(single, "/oom/records/0/victim/pid") > 0);
    CHECK_THAT(str(single, "/explanation"), Catch::StartsWith("OOM-killed by its memory.max of 128 MiB"));
    // The storm really went past the kernel's rate limit: the defect's records came.
    INFO("records: " << own << " own, " << unknown << " unknown, " << without_header << " without header");
    CHECK(without_header >= 50);
    hc.finish();
}

TEST_CASE("the explanation quotes the line printed when the OOM kill came, the partial line included, "
          "not the suite's last line",
          "[host][oom][records]") {
    HostCase hc;
    TempDir work("oomline");
    TempDir reports("oomline-reports");
    // As pytest -v: the node id goes out before the test runs (no newline yet), its worker is
    // OOM-killed, the runner goes on and ends with its summary line.
    const std::string script = "printf 'tests/e2e/test_backtest.py::test_full_day '; sleep 0.3; " +
                               prog("child_alloc") + " 512 > /dev/null; echo FAILED; sleep 0.3; " +
                               "echo '==== 1 failed, 80 passed in 2.59s ===='";
    auto r = run_corral(adhoc(reports.path(), {"--name", "xdist", "--memory-max", "64M", "--timeout", "60s"},
                              {"/bin/sh", "-c", script}),
                        within(60s));
    INFO(r.describe());
    auto report = load_report(reports.path());
    INFO(brief(report));
    const Json& s = suite(report, "xdist");
    CHECK(str(s, "/verdict") == "oom-killed");
    CHECK(str(s, "/last_line") == "==== 1 failed, 80 passed in 2.59s ====");
    REQUIRE(field(s, "/oom/records").size() == 1);
    const Json& rec = field(s, "/oom/records/0");
    CHECK(str(rec, "/line_at_kill") == "tests/e2e/test_backtest.py::test_full_day");
    CHECK(rec["line_at_kill_partial"].get<bool>());
    CHECK(str(s, "/oom/line_at_first_kill") == "tests/e2e/test_backtest.py::test_full_day");
    CHECK_THAT(str(s, "/explanation"),
               Catch::Contains("while the suite printed 'tests/e2e/test_backtest.py::test_full_day'"));
    CHECK_THAT(str(s, "/explanation"), !Catch::Contains("80 passed"));
    hc.finish();
}
