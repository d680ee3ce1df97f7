// split: item resolution (glob with **, list, from-file), batches and their names and argv, the
// located errors, and the report's splits (ranking, summary).
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "corral/profile/profile.hpp"
#include "corral/profile/split.hpp"
#include "corral/report/report.hpp"
#include "corral/report/split_report.hpp"
#include "corral/report/summary.hpp"

using namespace corral;
using Strings = std::vector<std::string>;

namespace {

namespace fs = std::filesystem;

// A directory tree under /tmp, removed at the end.
struct Tree {
    std::string root;
    Tree() {
        char tmpl[] = "/tmp/corral-split-unit-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        root = tmpl;
    }
    ~Tree() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    Tree(const Tree&) = delete;
    Tree& operator=(const Tree&) = delete;
    void file(const std::string& rel, const std::string& text = "") const {
        const fs::path p = fs::path(root) / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
    }
    void dir(const std::string& rel) const { fs::create_directories(fs::path(root) / rel); }
};

// A project: test files at several depths, helpers, a hidden directory, a directory named like a test.
void make_project(const Tree& t) {
    for (const char* f : {"proj/tests/test_a.py", "proj/tests/unit/test_b.py", "proj/tests/unit/deep/test_c.py",
                          "proj/tests/helper.py", "proj/tests/.cache/test_hidden.py", "proj/other/test_d.py",
                          "proj/README"})
        t.file(f);
    t.dir("proj/tests/test_data.d");
}

ProfileError profile_error(const std::string& yaml, const std::string& file) {
    try {
        parse_profile(yaml, file);
    } catch (const ProfileError& e) {
        return e;
    }
    FAIL("parse_profile accepted:\n" << yaml);
    throw std::logic_error("unreachable");
}

Strings names_of(const std::vector<SuiteSpec>& suites) {
    Strings out;
    for (const auto& s : suites) out.push_back(s.name);
    return out;
}

}  // namespace

TEST_CASE("split glob: ** matches any number of directories, results sorted and relative to the directory",
          "[split]") {
    Tree t;
    make_project(t);
    const std::string proj = t.root + "/proj";
    CHECK(glob_paths("tests/**/test_*.py", proj) ==
          Strings{"tests/test_a.py", "tests/unit/deep/test_c.py", "tests/unit/test_b.py"});
    // ** may match no directory at all, and repeated ** give each path once.
    CHECK(glob_paths("**/test_*.py", proj) ==
          Strings{"other/test_d.py", "tests/test_a.py", "tests/unit/deep/test_c.py", "tests/unit/test_b.py"});
    CHECK(glob_paths("tests/**/**/test_*.py", proj) == glob_paths("tests/**/test_*.py", proj));
    CHECK(glob_paths("./tests/*.py", proj) == Strings{"tests/helper.py", "tests/test_a.py"});
    // A '*' matches directories too, never a leading '.'; naming the hidden directory reaches it.
    CHECK(glob_paths("tests/test_*", proj) == Strings{"tests/test_a.py", "tests/test_data.d"});
    CHECK(glob_paths("tests/.cache/*.py", proj) == Strings{"tests/.cache/test_hidden.py"});
    // A pattern ending in ** is everything below.
    CHECK(glob_paths("tests/unit/**", proj) == Strings{"tests/unit/deep", "tests/unit/deep/test_c.py", "tests/unit/test_b.py"});
    // A plain path, an absolute pattern, and nothing.
    CHECK(glob_paths("README", proj) == Strings{"README"});
    CHECK(glob_paths(proj + "/other/*.py", "/nonexistent") == Strings{proj + "/other/test_d.py"});
    CHECK(glob_paths("tests/**/*.rs", proj).empty());
    CHECK(glob_paths("tests/*.py", t.root + "/missing").empty());
}

TEST_CASE("split in a profile: items found below the workdir, batches named <name>.<k> with their items appended",
          "[split][profile]") {
    Tree t;
    make_project(t);
    const std::string profile = t.root + "/p.yaml";
    auto suites = parse_profile("name: unit\n"
                                "command: [python3, -m, pytest, -q]\n"
                                "workdir: proj\n"
                                "memory: {max: 64M}\n"
                                "split:\n"
                                "  items: 'tests/**/test_*.py'\n"
                                "  batch: 2\n"
                                "  fail_fast: true\n",
                                profile);
    REQUIRE(names_of(suites) == Strings{"unit.1", "unit.2"});
    CHECK(suites[0].argv == Strings{"python3", "-m", "pytest", "-q", "tests/test_a.py", "tests/unit/deep/test_c.py"});
    CHECK(suites[1].argv == Strings{"python3", "-m", "pytest", "-q", "tests/unit/test_b.py"});
    CHECK(suites[0].command_text == "python3 -m pytest -q tests/test_a.py tests/unit/deep/test_c.py");
    for (std::size_t i = 0; i < suites.size(); ++i) {
        const SuiteSpec& s = suites[i];
        REQUIRE(s.split);
        CHECK(s.split->of == "unit");
        CHECK(s.split->index == i + 1);
        CHECK(s.split->batches == 2);
        CHECK(s.split->fail_fast);
        CHECK(s.limits.memory_max == 64u * 1024 * 1024);  // each batch has the suite's limits
        CHECK(s.workdir == t.root + "/proj");
    }
    CHECK(suites[1].split->items == Strings{"tests/unit/test_b.py"});
}

TEST_CASE("split: a string command gets the items as \"$@\", after the batch's name as $0", "[split][profile]") {
    Tree t;
    make_project(t);
    auto suites = parse_profile("suites:\n"
                                "  - name: sh\n"
                                "    command: 'for f in \"$@\"; do sh \"$f\"; done'\n"
                                "    workdir: proj\n"
                                "    split: {items: 'other/*.py'}\n",
                                t.root + "/p.yaml");
    REQUIRE(suites.size() == 1);
    CHECK(suites[0].name == "sh.1");
    CHECK(suites[0].argv == Strings{"/bin/sh", "-c", "for f in \"$@\"; do sh \"$f\"; done", "sh.1", "other/test_d.py"});
    CHECK(suites[0].command_text == "/bin/sh -c 'for f in \"$@\"; do sh \"$f\"; done' sh.1 other/test_d.py");
    // batch_argv on its own: a list command is only appended to.
    SuiteSpec list;
    list.argv = {"run", "--"};
    CHECK(batch_argv(list, "x.1", {"a", "b"}) == Strings{"run", "--", "a", "b"});
    SuiteSpec shell;
    shell.argv = {"/bin/sh", "-c", "echo \"$@\""};
    shell.shell = true;
    CHECK(batch_argv(shell, "x.1", {"a", "b"}) == Strings{"/bin/sh", "-c", "echo \"$@\"", "x.1", "a", "b"});
}

TEST_CASE("split: batch names are zero-padded to one width, the last batch takes the rest", "[split]") {
    CHECK(batch_name("t", 1, 9) == "t.1");
    CHECK(batch_name("t", 1, 10) == "t.01");
    CHECK(batch_name("t", 10, 10) == "t.10");
    CHECK(batch_name("t", 7, 100) == "t.007");
    SuiteSpec s;
    s.name = "t";
    s.argv = {"run"};
    Strings items;
    for (int i = 0; i < 10; ++i) items.push_back("f" + std::to_string(i));
    auto batches = expand_split(s, items, 1, false);
    REQUIRE(batches.size() == 10);
    CHECK(batches.front().name == "t.01");
    CHECK(batches.back().name == "t.10");
    CHECK(batches.back().argv == Strings{"run", "f9"});
    auto threes = expand_split(s, items, 3, false);
    REQUIRE(threes.size() == 4);
    CHECK(threes[0].split->items == Strings{"f0", "f1", "f2"});
    CHECK(threes[3].split->items == Strings{"f9"});
    CHECK(threes[3].split->batches == 4);
    // A batch name past the longest a suite may have is an error naming the batch.
    s.name = std::string(62, 'n');
    CHECK_THROWS_WITH(expand_split(s, items, 1, false), Catch::Contains("batch " + s.name + ".01"));
}

TEST_CASE("split items: a list and a file of items are sorted with duplicates removed", "[split][profile]") {
    Tree t;
    t.file("lists/items.txt", "# slow ones last\n\n  tests/z.py  \ntests/a.py\r\ntests/a.py\n   # indented comment\n");
    auto from = parse_profile("name: f\ncommand: [run]\nsplit: {items: {from: lists/items.txt}}\n", t.root + "/p.yaml");
    REQUIRE(names_of(from) == Strings{"f.1", "f.2"});
    CHECK(from[0].split->items == Strings{"tests/a.py"});
    CHECK(from[1].split->items == Strings{"tests/z.py"});
    auto list = parse_profile("name: l\ncommand: [go, test]\nsplit: {items: [./pkg/b, ./pkg/a, ./pkg/b], batch: 5}\n",
                              t.root + "/p.yaml");
    REQUIRE(list.size() == 1);
    CHECK(list[0].name == "l.1");
    CHECK(list[0].argv == Strings{"go", "test", "./pkg/a", "./pkg/b"});
}

TEST_CASE("split errors are located at the value: no match names the pattern and the directory searched",
          "[split][profile]") {
    Tree t;
    make_project(t);
    const std::string file = t.root + "/p.yaml";
    struct Case {
        std::string yaml;
        int line, column;
        std::string key, message_part;
    };
    const std::vector<Case> cases = {
        {"name: e\ncommand: [run]\nworkdir: proj\nsplit:\n  items: 'tests/**/*.rs'\n", 5, 10, "split.items",
         "no file or directory matches 'tests/**/*.rs' in " + t.root + "/proj"},
        {"name: e\ncommand: [run]\nworkdir: gone\nsplit: {items: '*.py'}\n", 4, 16, "split.items",
         "in " + t.root + "/gone (no such directory)"},
        {"name: e\ncommand: [run]\nsplit: {items: []}\n", 3, 16, "split.items", "expected at least one item"},
        {"name: e\ncommand: [run]\nsplit: {items: {from: missing.txt}}\n", 3, 23, "split.items.from",
         "cannot read the items file " + t.root + "/missing.txt: No such file or directory"},
        {"name: e\ncommand: [run]\nsplit: {items: {from: proj/README}}\n", 3, 23, "split.items.from", "no items in"},
        {"name: e\ncommand: [run]\nsplit: '*.py'\n", 3, 8, "split", "expected a map {items:"},
        {"name: e\ncommand: [run]\nsplit: {batch: 2}\n", 3, 8, "split.items", "missing key 'items'"},
        {"name: e\ncommand: [run]\nsplit: {items: '*', batch: 0}\n", 3, 28, "split.batch", "expected a positive integer, found 0"},
        {"name: e\ncommand: [run]\nsplit: {items: '*', batch: two}\n", 3, 28, "split.batch", "expected a positive integer"},
        {"name: e\ncommand: [run]\nsplit: {items: '*', fail_fast: maybe}\n", 3, 32, "split.fail_fast", "expected true or false"},
        {"name: e\ncommand: [run]\nsplit: {items: '*', batches: 2}\n", 3, 21, "split.batches", "did you mean 'batch'?"},
        {"name: e\ncommand: [run]\nsplit: {items: {frm: x}}\n", 3, 17, "split.items.frm", "did you mean 'from'?"},
        {"name: e\ncommand: [run]\nsplit: {items: [a, [b]]}\n", 3, 20, "split.items[1]", "expected an item (a string)"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.yaml);
        ProfileError e = profile_error(c.yaml, file);
        CHECK(e.loc().line == c.line);
        CHECK(e.loc().column == c.column);
        CHECK(e.key() == c.key);
        CHECK_THAT(e.message(), Catch::Contains(c.message_part));
        CHECK_THAT(std::string(e.what()), Catch::StartsWith(file + ":" + std::to_string(c.line) + ":"));
    }
    // A batch's name taken by another suite is a duplicate.
    ProfileError dup = profile_error("suites:\n  - name: a\n    command: [run]\n    split: {items: [x]}\n"
                                     "  - name: a.1\n    command: [run]\n",
                                     file);
    CHECK_THAT(dup.message(), Catch::Contains("duplicate suite name 'a.1'"));
}

namespace {

SuiteResult batch_result(std::size_t index, Verdict v, std::uint64_t peak, const std::string& item) {
    SuiteResult r;
    r.name = batch_name("tests", index, 4);
    r.verdict = v;
    r.peak_bytes = peak;
    r.duration_s = 0.5;
    r.limits.memory_max = 64u << 20;
    r.split = SplitBatch{"tests", index, 4, {item}, false};
    return r;
}

}  // namespace

TEST_CASE("splits: non-passing batches rank first, then by peak, verdicts counted, not-run batches listed",
          "[split][report]") {
    RunReport rep;
    rep.suites.push_back(batch_result(1, Verdict::Passed, 10u << 20, "t/a.py"));
    rep.suites.push_back(batch_result(2, Verdict::Passed, 30u << 20, "t/b.py"));
    rep.suites.push_back(batch_result(3, Verdict::OomKilled, 64u << 20, "t/big.py"));
    rep.not_run.push_back(SplitBatch{"tests", 4, 4, {"t/z.py"}, true});
    SuiteResult plain;
    plain.name = "other";
    plain.verdict = Verdict::Failed;
    rep.suites.push_back(plain);
    const auto j = report_to_json(rep);
    REQUIRE(j["splits"].size() == 1);
    const auto& sp = j["splits"][0];
    CHECK(sp["name"] == "tests");
    CHECK(sp["batches"] == 4);
    CHECK(sp["verdicts"] == nlohmann::json{{"passed", 2}, {"oom-killed", 1}});
    CHECK(sp["not_run"] == 1);
    CHECK(sp["not_run_batches"][0]["items"] == Strings{"t/z.py"});
    REQUIRE(sp["ranking"].size() == 3);
    CHECK(sp["ranking"][0]["index"] == 3);
    CHECK(sp["ranking"][0]["verdict"] == "oom-killed");
    CHECK(sp["ranking"][0]["items"] == Strings{"t/big.py"});
    CHECK(sp["ranking"][1]["index"] == 2);
    CHECK(sp["ranking"][2]["index"] == 1);
    CHECK(sp["ranking"][2]["peak_bytes"] == 10u << 20);
    CHECK(j["suites"][2]["split"] == nlohmann::json{{"of", "tests"}, {"index", 3}, {"items", {"t/big.py"}}});
    CHECK(j["suites"][3]["split"].is_null());
    const std::string text = render_summary(report_to_json(rep), "r");
    CHECK_THAT(text, Catch::Contains("split tests: 4 batches: 1 oom-killed, 2 passed, 1 not run (fail_fast)"));
    CHECK(text.find("1. tests.3") != std::string::npos);
    CHECK(text.find("1. tests.3") < text.find("2. tests.2"));
    CHECK_THAT(text, !Catch::Contains("no single batch"));
}

TEST_CASE("splits summary: every batch passed says none reaches memory.max alone and names the largest",
          "[split][report]") {
    RunReport rep;
    for (std::size_t i = 1; i <= 7; ++i)
        rep.suites.push_back(batch_result(i, Verdict::Passed, (i == 5 ? 40u : i) << 20, "t/f" + std::to_string(i) + ".py"));
    for (auto& s : rep.suites) s.split->batches = 7;
    const std::string text = render_summary(report_to_json(rep), "r");
    INFO(text);
    CHECK_THAT(text, Catch::Contains("split tests: 7 batches, every one passed: no single batch reaches memory.max "
                                     "(64 MiB) on its own; the largest, t/f5.py, peaked at 40 MiB (63%)."));
    CHECK_THAT(text, Catch::Contains("1. tests.5"));
    CHECK_THAT(text, Catch::Contains("5. tests.3"));  // five lines of the ranking, then a count of the rest
    CHECK_THAT(text, !Catch::Contains("6. "));
    CHECK_THAT(text, Catch::Contains("2 more in report.json's splits"));
    CHECK(items_text({"a", "b", "c", "d", "e"}) == "a, b, c and 2 more");
}
