// Host tier: `split` runs each test file of a small project alone, in its own box with the suite's
// limits, and names the one file that is OOM-killed on its own; fail_fast; the ad-hoc --split flag.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "harness.hpp"

using namespace host;
using Strings = std::vector<std::string>;

namespace {

// A project whose "test files" are shell scripts that allocate: three small ones of different sizes,
// one that needs 200 MiB, files that no glob below should pick (a helper, a hidden directory).
// Sorted, the big one is the last: its batch is ranked first only because it failed.
void make_project(const TempDir& dir) {
    const std::string alloc = prog("alloc");
    auto test_file = [&](const std::string& rel, const std::string& body) {
        std::filesystem::create_directories(std::filesystem::path(dir.file(rel)).parent_path());
        write_text(dir.file(rel), body + "\n");
    };
    test_file("tests/sub/test_small_2.t", alloc + " 24");  // index 1
    test_file("tests/test_small_1.t", alloc + " 8");        // index 2
    test_file("tests/test_small_3.t", alloc + " 16");       // index 3
    test_file("tests/z/test_big.t", alloc + " 200");        // index 4
    test_file("tests/helper.sh", "exit 7");
    test_file("tests/.hidden/test_hidden.t", "exit 9");
}

// The runner a suite's command is: runs each file given, stops at the first that fails.
const std::string kRunner = "for f in \"$@\"; do echo \"running $f\"; sh \"$f\" || exit $?; done";

Strings items_of(const Json& j) { return j.get<Strings>(); }

std::vector<int> ranking_indices(const Json& split) {
    std::vector<int> out;
    for (const Json& r : field(split, "/ranking")) out.push_back(r.at("index").get<int>());
    return out;
}

}  // namespace

TEST_CASE("split: each test file runs alone under the suite's limits, the one OOM-killed alone ranked first (--jobs 2)",
          "[host][split]") {
    HostCase hc;
    TempDir work("split");
    TempDir reports("split-reports");
    make_project(work);
    write_text(work.file("p.yaml"), "name: p\n"
                                    "command: '" + kRunner + "'\n"
                                    "workdir: .\n"
                                    "memory: {max: 64M}\n"
                                    "timeout: 60s\n"
                                    "split: {items: 'tests/**/test_*.t'}\n");
    auto r = run_corral({"run", "--report-dir", reports.path(), "--jobs", "2", work.file("p.yaml")}, within(120s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    REQUIRE(field(report, "/suites").size() == 4);
    const Strings files{"tests/sub/test_small_2.t", "tests/test_small_1.t", "tests/test_small_3.t", "tests/z/test_big.t"};
    for (int k = 1; k <= 4; ++k) {
        const Json& s = suite(report, "p." + std::to_string(k));
        CHECK(str(s, "/split/of") == "p");
        CHECK(num(s, "/split/index") == k);
        CHECK(items_of(field(s, "/split/items")) == Strings{files[k - 1]});
        // The string command got its file as "$@", and the batch ran in the suite's own box and limit.
        CHECK(contains(suite_stdout(s, reports.path()), "running " + files[k - 1]));
        CHECK(num(s, "/limits/memory_max_bytes") == 64 * kMiB);
        CHECK(str(s, "/verdict") == (k == 4 ? "oom-killed" : "passed"));
    }
    REQUIRE(field(report, "/splits").size() == 1);
    const Json& sp = field(report, "/splits/0");
    CHECK(str(sp, "/name") == "p");
    CHECK(num(sp, "/batches") == 4);
    CHECK(field(sp, "/verdicts") == Json{{"oom-killed", 1}, {"passed", 3}});
    CHECK(num(sp, "/not_run") == 0);
    // The OOM-killed file first, then the passing ones by peak: 24, 16, 8 MiB.
    CHECK(ranking_indices(sp) == std::vector<int>{4, 1, 3, 2});
    CHECK(items_of(field(sp, "/ranking/0/items")) == Strings{"tests/z/test_big.t"});
    CHECK(str(sp, "/ranking/0/verdict") == "oom-killed");
    CHECK(num(sp, "/ranking/1/peak_bytes") > num(sp, "/ranking/2/peak_bytes"));
    CHECK(num(sp, "/ranking/1/duration_s") > 0);
    // --jobs 2: the batches' lines came prefixed like any suites'.
    CHECK(contains(r.out, "[p.4] running tests/z/test_big.t"));
    CHECK(contains(r.err, "split p: 4 batches: 1 oom-killed, 3 passed"));
    CHECK(contains(r.err, "1. p.4 "));
    hc.finish();
}

TEST_CASE("split fail_fast: once a batch fails, the batches not yet started are not run and are counted",
          "[host][split]") {
    HostCase hc;
    TempDir work("split-ff");
    TempDir reports("split-ff-reports");
    make_project(work);
    write_text(work.file("tests/test_small_1.t"), "exit 3\n");  // batch 2 fails
    write_text(work.file("p.yaml"), "suites:\n"
                                    "  - name: ff\n"
                                    "    command: [/bin/sh, -c, '" + kRunner + "', runner]\n"
                                    "    workdir: .\n"
                                    "    memory: {max: 64M}\n"
                                    "    split: {items: 'tests/**/test_*.t', fail_fast: true}\n");
    auto r = run_corral({"run", "--report-dir", reports.path(), work.file("p.yaml")}, within(120s));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    REQUIRE(field(report, "/suites").size() == 2);
    CHECK(str(suite(report, "ff.1"), "/verdict") == "passed");
    CHECK(str(suite(report, "ff.2"), "/verdict") == "failed");
    CHECK(num(suite(report, "ff.2"), "/exit_code") == 3);
    const Json& sp = field(report, "/splits/0");
    CHECK(num(sp, "/batches") == 4);
    CHECK(num(sp, "/not_run") == 2);
    CHECK(field(sp, "/not_run_batches") ==
          Json::array({{{"index", 3}, {"items", {"tests/test_small_3.t"}}}, {{"index", 4}, {"items", {"tests/z/test_big.t"}}}}));
    CHECK(field(sp, "/verdicts") == Json{{"failed", 1}, {"passed", 1}});
    CHECK(ranking_indices(sp) == std::vector<int>{2, 1});
    CHECK(contains(r.err, "split ff: 4 batches: 1 failed, 1 passed, 2 not run (fail_fast)"));
    hc.finish();
}

TEST_CASE("split ad hoc: --split GLOB --batch N runs the command once per batch of files in the current directory",
          "[host][split][flags]") {
    HostCase hc;
    TempDir work("split-adhoc");
    TempDir reports("split-adhoc-reports");
    make_project(work);
    const Strings command{"/bin/sh", "-c", kRunner, "runner"};
    auto r = run_corral(adhoc(reports.path(), {"--split", "tests/**/test_*.t", "--batch", "2", "--memory-max", "64M"}, command),
                        within(120s, work.path()));
    INFO(r.describe());
    CHECK(r.exit_code == 1);
    auto report = load_report(reports.path());
    INFO(brief(report));
    REQUIRE(field(report, "/suites").size() == 2);
    CHECK(items_of(field(suite(report, "adhoc.1"), "/split/items")) == Strings{"tests/sub/test_small_2.t", "tests/test_small_1.t"});
    CHECK(items_of(field(suite(report, "adhoc.2"), "/split/items")) == Strings{"tests/test_small_3.t", "tests/z/test_big.t"});
    CHECK(str(suite(report, "adhoc.1"), "/verdict") == "passed");
    CHECK(str(suite(report, "adhoc.2"), "/verdict") == "oom-killed");
    CHECK(ranking_indices(field(report, "/splits/0")) == std::vector<int>{2, 1});

    // Every batch passes: the summary says no single one reaches the limit and names the largest.
    TempDir reports2("split-adhoc-reports2");
    auto ok = run_corral(adhoc(reports2.path(), {"--split", "tests/**/test_small_*.t", "--memory-max", "256M", "--name", "small"}, command),
                         within(120s, work.path()));
    INFO(ok.describe());
    CHECK(ok.exit_code == 0);
    CHECK(contains(ok.err, "split small: 3 batches, every one passed: no single batch reaches memory.max (256 MiB) on its "
                           "own; the largest, tests/sub/test_small_2.t, peaked at "));

    // Nothing matches: a usage error naming the pattern and the directory, and nothing runs.
    TempDir reports3("split-adhoc-reports3");
    auto none = run_corral(adhoc(reports3.path(), {"--split", "nothing/**/*.x"}, command), within(30s, work.path()));
    INFO(none.describe());
    CHECK(none.exit_code == 2);
    CHECK(contains(none.err, "--split: no file or directory matches 'nothing/**/*.x' in " + work.path()));
    CHECK(!std::filesystem::exists(reports3.file("report.json")));
    auto batch_alone = run_corral(adhoc(reports3.path(), {"--batch", "2"}, command), within(30s, work.path()));
    CHECK(batch_alone.exit_code == 2);
    CHECK(contains(batch_alone.err, "--batch N is the batch size of --split"));
    hc.finish();
}
