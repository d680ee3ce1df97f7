// Marker detection (report/markers) on each runner's captured output (tests/fixtures/markers/), and
// the profile key `markers`.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "corral/profile/marker_pattern.hpp"
#include "corral/profile/profile.hpp"
#include "corral/report/markers.hpp"

using namespace corral;

namespace {

// A fixture's lines without its header comment (the first lines starting with '#'). Lines keep
// their '\r's: a progress line redrawn with '\r' is one line.
std::vector<std::string> fixture(const std::string& name) {
    const std::string path = std::string(CORRAL_FIXTURES_DIR) + "/markers/" + name;
    std::ifstream in(path);
    REQUIRE(in.good());
    std::vector<std::string> lines;
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
        if (header && line.starts_with("#")) continue;
        header = false;
        lines.push_back(line);
    }
    REQUIRE(!lines.empty());
    return lines;
}

enum class Feed {
    Lines,     // whole lines only (a reader that always got the line at once)
    Partials,  // every prefix of every line as a growing partial first, then the line
};

struct Events {
    std::vector<MarkerEvent> all;
    std::vector<std::string> starts, ends;
    std::optional<MarkerKind> kind;
};

Events replay(const std::vector<std::string>& lines, Feed feed, const MarkersSpec& spec = {}) {
    MarkerDetector d(spec);
    Events ev;
    auto take = [&](std::optional<MarkerEvent> e) {
        if (!e) return;
        ev.all.push_back(*e);
        (e->type == MarkerEvent::Type::Start ? ev.starts : ev.ends).push_back(e->name);
    };
    for (const std::string& line : lines) {
        if (feed == Feed::Partials)
            for (std::size_t n = 1; n < line.size(); ++n)
                take(d.on_partial(std::string_view(line).substr(0, n)));
        take(d.on_line(line));
    }
    ev.kind = d.kind();
    for (const auto& e : ev.all) CHECK(e.kind == *ev.kind);  // one runner per suite
    return ev;
}

MarkersSpec pattern(const std::string& re) {
    MarkersSpec s;
    s.mode = MarkersSpec::Mode::Pattern;
    s.pattern = re;
    return s;
}

}  // namespace

TEST_CASE("marker_kind_name gives the report's marker_kind values", "[markers]") {
    CHECK(marker_kind_name(MarkerKind::Pytest) == "pytest");
    CHECK(marker_kind_name(MarkerKind::Unittest) == "unittest");
    CHECK(marker_kind_name(MarkerKind::Ctest) == "ctest");
    CHECK(marker_kind_name(MarkerKind::Go) == "go");
    CHECK(marker_kind_name(MarkerKind::Cargo) == "cargo");
    CHECK(marker_kind_name(MarkerKind::Gtest) == "gtest");
    CHECK(marker_kind_name(MarkerKind::Counter) == "counter");
    CHECK(marker_kind_name(MarkerKind::Regex) == "regex");
}

TEST_CASE("markers: pytest -v gives a Start from the partial node id and an End per result", "[markers]") {
    const auto lines = fixture("pytest.txt");
    const Events whole = replay(lines, Feed::Lines);
    CHECK(whole.kind == MarkerKind::Pytest);
    CHECK(whole.starts.empty());
    REQUIRE(whole.ends.size() == 12);
    CHECK(whole.ends.front() == "tests/test_calc.py::test_add");
    CHECK(whole.ends[2] == "tests/test_calc.py::test_skipped");  // SKIPPED (reason)
    CHECK(whole.ends[3] == "tests/test_calc.py::test_xfail");    // XFAIL (reason)
    CHECK(whole.ends[5] == "tests/test_calc.py::test_error");
    CHECK(whole.ends[6] == "tests/test_calc.py::test_param[1]");
    CHECK(whole.ends.back() == "tests/test_io.py::TestGroup::test_two");

    const Events grown = replay(lines, Feed::Partials);
    CHECK(grown.kind == MarkerKind::Pytest);
    CHECK(grown.starts == grown.ends);  // each test: Start while it runs, End with its result
    REQUIRE(grown.all.size() == 24);
    for (std::size_t i = 0; i < grown.all.size(); ++i)
        CHECK(grown.all[i].type == (i % 2 == 0 ? MarkerEvent::Type::Start : MarkerEvent::Type::End));
}

TEST_CASE("markers: pytest -n 2 -v (xdist) gives each worker's Start line and [gwN] End", "[markers]") {
    for (Feed feed : {Feed::Lines, Feed::Partials}) {
        const Events ev = replay(fixture("pytest-xdist.txt"), feed);
        CHECK(ev.kind == MarkerKind::Pytest);
        REQUIRE(ev.starts.size() == 12);
        REQUIRE(ev.ends.size() == 12);
        CHECK(ev.starts.front() == "tests/test_calc.py::test_skipped");
        CHECK(ev.ends.front() == "tests/test_calc.py::test_skipped");
        CHECK(ev.ends[1] == "tests/test_calc.py::test_add");
        CHECK(ev.ends.back() == "tests/test_io.py::TestGroup::test_two");
    }
}

TEST_CASE("markers: unittest -v, with the partial '... ' Start and a docstring test", "[markers]") {
    const auto lines = fixture("unittest.txt");
    const Events whole = replay(lines, Feed::Lines);
    CHECK(whole.kind == MarkerKind::Unittest);
    REQUIRE(whole.ends.size() == 8);
    CHECK(whole.ends.front() == "test_shop.TestCart.test_add_item");
    CHECK(whole.ends[4] == "test_shop.TestCart.test_pay");     // skipped 'reason'
    CHECK(whole.ends[6] == "test_shop.TestStock.test_count");  // named on the line before its docstring
    CHECK(whole.ends.back() == "test_shop.TestStock.test_subtests");
    CHECK(whole.starts == std::vector<std::string>{"test_shop.TestStock.test_count"});

    const Events grown = replay(lines, Feed::Partials);
    CHECK(grown.starts == grown.ends);
    REQUIRE(grown.all.size() == 16);
    CHECK(grown.all.front().type == MarkerEvent::Type::Start);
    CHECK(grown.all.front().name == "test_shop.TestCart.test_add_item");
}

TEST_CASE("markers: unittest's pre-3.11 'test_x (mod.Class)' names the same test", "[markers]") {
    MarkerDetector d{MarkersSpec{}};
    auto start = d.on_partial("test_add (shop.TestCart) ... ");
    REQUIRE(start);
    CHECK(start->type == MarkerEvent::Type::Start);
    CHECK(start->name == "shop.TestCart.test_add");
    CHECK(!d.on_partial("test_add (shop.TestCart) ... "));  // the same partial again
    auto end = d.on_line("test_add (shop.TestCart) ... ok");
    REQUIRE(end);
    CHECK(end->type == MarkerEvent::Type::End);
    CHECK(end->name == "shop.TestCart.test_add");
}

TEST_CASE("markers: ctest -j2 Start and Test # lines", "[markers]") {
    for (Feed feed : {Feed::Lines, Feed::Partials}) {
        const Events ev = replay(fixture("ctest.txt"), feed);
        CHECK(ev.kind == MarkerKind::Ctest);
        CHECK(ev.starts ==
              std::vector<std::string>{"area_circle", "perimeter_slow", "area_square", "volume_cube"});
        CHECK(ev.ends ==
              std::vector<std::string>{"area_circle", "area_square", "volume_cube", "perimeter_slow"});
    }
}

TEST_CASE("markers: go test -v RUN and PASS/FAIL/SKIP lines, subtests too", "[markers]") {
    for (Feed feed : {Feed::Lines, Feed::Partials}) {
        const Events ev = replay(fixture("go.txt"), feed);
        CHECK(ev.kind == MarkerKind::Go);
        CHECK(ev.starts == std::vector<std::string>{"TestCount", "TestSlowReorder", "TestBroken",
                                                    "TestSkipped", "TestTable", "TestTable/empty",
                                                    "TestTable/one_item", "TestParallel"});
        CHECK(ev.ends == std::vector<std::string>{"TestCount", "TestSlowReorder", "TestBroken", "TestSkipped",
                                                  "TestTable", "TestTable/empty", "TestTable/one_item",
                                                  "TestParallel"});
    }
}

TEST_CASE("markers: cargo test result lines, doc tests and the partial 'test x ... '", "[markers]") {
    const auto lines = fixture("cargo.txt");
    const std::vector<std::string> tests{"tests::adds",           "tests::overflow_is_caught",
                                         "tests::slow_reconcile", "tests::balance_after_sleep",
                                         "books_balance",         "src/lib.rs - add (line 3)"};
    const Events whole = replay(lines, Feed::Lines);
    CHECK(whole.kind == MarkerKind::Cargo);
    CHECK(whole.starts.empty());
    CHECK(whole.ends == tests);
    const Events grown = replay(lines, Feed::Partials);
    CHECK(grown.starts == tests);
    CHECK(grown.ends == tests);
}

TEST_CASE("markers: nextest status lines, not SLOW nor the summary's repeats", "[markers]") {
    const Events ev = replay(fixture("nextest.txt"), Feed::Lines);
    CHECK(ev.kind == MarkerKind::Cargo);
    CHECK(ev.starts.empty());
    CHECK(ev.ends == std::vector<std::string>{
                         "ledger tests::adds", "ledger tests::overflow_is_caught",
                         "ledger tests::balance_after_sleep", "ledger::integration books_balance",
                         "ledger::integration books_balance", "ledger::integration ledger_reconciles",
                         "ledger::integration spawns_a_helper"});
}

TEST_CASE("markers: GoogleTest RUN/OK/FAILED/SKIPPED, not the summary's FAILED list", "[markers]") {
    for (Feed feed : {Feed::Lines, Feed::Partials}) {
        const Events ev = replay(fixture("gtest.txt"), feed);
        CHECK(ev.kind == MarkerKind::Gtest);
        const std::vector<std::string> tests{"Queue.StartsEmpty",      "Queue.PushPop",
                                             "Queue.SkipsOnCi",        "Timer.Sleeps",
                                             "Small/Sizes.Positive/0", "Small/Sizes.Positive/1"};
        CHECK(ev.starts == tests);
        CHECK(ev.ends == tests);
    }
}

TEST_CASE("markers: Catch2 -d yes duration lines are Ends of kind gtest", "[markers]") {
    const Events ev = replay(fixture("catch2.txt"), Feed::Lines);
    CHECK(ev.kind == MarkerKind::Gtest);
    CHECK(ev.starts.empty());
    CHECK(ev.ends == std::vector<std::string>{"parses an empty string", "rejects a bad number",
                                              "slow tokenizer", "first", "sections", "second", "sections"});
}

TEST_CASE("markers: progress counters rise, redrawn with carriage returns or line by line", "[markers]") {
    const auto lines = fixture("counter.txt");
    // Whole lines: the spinner line shows only its last value (10/10) and arms a series; the 6-mutation
    // series decides on its first rise (2/6). Dates (2024/05/01) and 1/1 are no counters.
    const Events whole = replay(lines, Feed::Lines);
    CHECK(whole.kind == MarkerKind::Counter);
    CHECK(whole.starts.empty());
    CHECK(whole.ends == std::vector<std::string>{"2/6", "3/6", "4/6", "5/6", "6/6"});
    // Growing partials see every redraw: 1/10 arms, 2/10 ... 10/10 count, then the next series counts
    // from its first value.
    const Events grown = replay(lines, Feed::Partials);
    CHECK(grown.kind == MarkerKind::Counter);
    REQUIRE(grown.ends.size() == 15);
    CHECK(grown.ends.front() == "2/10");
    CHECK(grown.ends[8] == "10/10");
    CHECK(grown.ends[9] == "1/6");
    CHECK(grown.ends.back() == "6/6");
}

TEST_CASE("markers: auto mode keeps the first runner it recognised", "[markers]") {
    auto lines = fixture("pytest.txt");
    lines.insert(lines.begin() + 12, "1/2");  // stray counters in the middle of the run
    lines.insert(lines.begin() + 13, "2/2");
    lines.insert(lines.begin() + 14, "[ RUN      ] Not.Gtest");
    const Events ev = replay(lines, Feed::Lines);
    CHECK(ev.kind == MarkerKind::Pytest);
    CHECK(ev.ends.size() == 12);
    CHECK(ev.starts.empty());

    // Before any runner, a lone N/M only arms a counter: pytest's first result still decides.
    MarkerDetector d{MarkersSpec{}};
    CHECK(!d.on_line("step 1/2 "));
    CHECK(!d.kind());
    auto e = d.on_line("tests/a.py::test_b PASSED [ 50%]");
    REQUIRE(e);
    CHECK(d.kind() == MarkerKind::Pytest);
    CHECK(!d.on_line("step 2/2"));
}

TEST_CASE("markers: counters are not ctest lines, percentages, dates or fractions of 1", "[markers]") {
    MarkerDetector ctest{MarkersSpec{}};
    for (const char* line : {"1/3 Test #1: a ....   Passed", "2/3 Test #2: b ....   Passed"})
        CHECK(ctest.on_line(line)->kind == MarkerKind::Ctest);
    MarkerDetector d{MarkersSpec{}};
    for (const char* line : {"45% done", "2024/05/01 10:00", "12/25/2024", "a/b 3/4x", "1/1 files", "0/1",
                             "path/1/2/3", "7/3 (more than all)", "2/3-4/5", "1/3 Test", "2/3 Test"}) {
        CAPTURE(line);
        CHECK(!d.on_line(line));
    }
    CHECK(!d.kind());
    CHECK(!d.on_line("(3/40)"));  // arms
    auto e = d.on_line("(4/40)");
    REQUIRE(e);
    CHECK(e->name == "4/40");
    CHECK(!d.on_line("(4/40)"));  // a redraw of the same value
}

TEST_CASE("markers: colour escapes are not part of the line", "[markers]") {
    MarkerDetector d{MarkersSpec{}};
    auto e = d.on_line("tests/a.py::test_x \x1b[32mPASSED\x1b[0m\x1b[32m                [ 50%]\x1b[0m");
    REQUIRE(e);
    CHECK(e->name == "tests/a.py::test_x");
    auto g = MarkerDetector{MarkersSpec{}}.on_line("\x1b[0;32m[       OK ] \x1b[mQueue.Push (0 ms)");
    REQUIRE(g);
    CHECK(g->name == "Queue.Push");
}

TEST_CASE("markers: pattern mode takes the user's regex, its group is the name", "[markers]") {
    MarkerDetector d(pattern(R"(^>>> case (\S+) done)"));
    CHECK(!d.on_partial(">>> case alpha done"));  // patterns look at whole lines only
    auto e = d.on_line(">>> case alpha done in 3 ms");
    REQUIRE(e);
    CHECK(e->type == MarkerEvent::Type::End);
    CHECK(e->kind == MarkerKind::Regex);
    CHECK(e->name == "alpha");
    CHECK(d.kind() == MarkerKind::Regex);
    CHECK(!d.on_line("  >>> case beta done"));              // anchored by its ^
    CHECK(!d.on_line("tests/a.py::test_x PASSED [ 50%]"));  // no runner detection in pattern mode
    CHECK(d.on_line(">>> case \x1b[1mgamma\x1b[0m done")->name == "gamma");

    const Events ev =
        replay(fixture("pytest.txt"), Feed::Partials, pattern(R"(::(test_param\[\d\]) PASSED)"));
    CHECK(ev.starts.empty());
    CHECK(ev.ends == std::vector<std::string>{"test_param[1]", "test_param[2]", "test_param[3]"});
}

TEST_CASE("markers: none finds nothing", "[markers]") {
    MarkersSpec none;
    none.mode = MarkersSpec::Mode::None;
    for (const char* f : {"pytest.txt", "gtest.txt", "counter.txt"}) {
        const Events ev = replay(fixture(f), Feed::Partials, none);
        CHECK(ev.all.empty());
        CHECK(!ev.kind);
    }
}

TEST_CASE("markers: lines per second through auto detection (INFO, not asserted)", "[markers]") {
    // A chatty suite: log lines that match no runner (auto mode never decides), then a pytest run.
    std::vector<std::string> chatty;
    for (int i = 0; i < 20000; ++i)
        chatty.push_back("INFO worker[" + std::to_string(i % 7) + "] fetched /api/v1/items?page=" +
                         std::to_string(i) + " in 12 ms (cache hit ratio 0.93, 1024 bytes)");
    const auto pytest = fixture("pytest.txt");
    using Clock = std::chrono::steady_clock;
    auto rate = [](auto&& feed, std::size_t lines) {
        const auto t0 = Clock::now();
        std::size_t events = feed();
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        return std::pair{lines / std::max(s, 1e-9), events};
    };
    auto [undecided, none_found] = rate(
        [&] {
            MarkerDetector d{MarkersSpec{}};
            std::size_t n = 0;
            for (const auto& l : chatty) n += d.on_line(l).has_value();
            return n;
        },
        chatty.size());
    CHECK(none_found == 0);
    constexpr int kRounds = 200;
    auto [pytest_rate, ends] = rate(
        [&] {
            MarkerDetector d{MarkersSpec{}};
            std::size_t n = 0;
            for (int r = 0; r < kRounds; ++r)
                for (const auto& l : pytest) n += d.on_line(l).has_value();
            return n;
        },
        pytest.size() * kRounds);
    CHECK(ends == 12u * kRounds);
    INFO("undecided chatty lines/s: " << undecided << ", pytest -v lines/s: " << pytest_rate);
    WARN("marker detection: " << static_cast<long>(undecided) << " chatty lines/s before a runner is known, "
                              << static_cast<long>(pytest_rate) << " pytest -v lines/s");
}

// ---- the profile key ----

namespace {

ProfileError markers_error(const std::string& yaml) {
    try {
        parse_profile(yaml, "m.yaml");
    } catch (const ProfileError& e) {
        return e;
    }
    FAIL("parse_profile accepted:\n" << yaml);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("profile key markers: auto (default), none, {pattern}", "[markers][profile]") {
    CHECK(parse_profile("command: x\n", "m.yaml")[0].markers.mode == MarkersSpec::Mode::Auto);
    CHECK(parse_profile("command: x\nmarkers: auto\n", "m.yaml")[0].markers.mode == MarkersSpec::Mode::Auto);
    CHECK(parse_profile("command: x\nmarkers: none\n", "m.yaml")[0].markers.mode == MarkersSpec::Mode::None);
    auto s = parse_profile("command: x\nmarkers: {pattern: '^case (\\w+) ok$'}\n", "m.yaml")[0];
    CHECK(s.markers.mode == MarkersSpec::Mode::Pattern);
    CHECK(s.markers.pattern == "^case (\\w+) ok$");
    CHECK(describe_markers(s.markers) == "pattern ^case (\\w+) ok$");

    // merged from defaults; a suite's own value wins
    auto suites = parse_profile(
        "defaults:\n  markers:\n    pattern: 'step (\\d+)'\nsuites:\n  - {name: a, command: x}\n"
        "  - {name: b, command: x, markers: none}\n",
        "m.yaml");
    REQUIRE(suites.size() == 2);
    CHECK(suites[0].markers.mode == MarkersSpec::Mode::Pattern);
    CHECK(suites[0].markers.pattern == "step (\\d+)");
    CHECK(suites[1].markers.mode == MarkersSpec::Mode::None);
}

TEST_CASE("profile key markers: located errors", "[markers][profile]") {
    struct Case {
        std::string yaml;
        int line, column;
        std::string key, part;
    };
    const std::vector<Case> cases = {
        {"command: x\nmarkers: pytest\n", 2, 10, "markers", "unknown markers setting 'pytest'"},
        {"command: x\nmarkers: [a]\n", 2, 10, "markers",
         "expected auto, none or a map {pattern: REGEX}, found a list"},
        {"command: x\nmarkers:\n  patern: 'a(b)'\n", 3, 3, "markers.patern",
         "unknown key 'patern' (did you mean 'pattern'?)"},
        {"command: x\nmarkers: {}\n", 2, 10, "markers.pattern", "missing key 'pattern'"},
        {"command: x\nmarkers:\n  pattern: 'case (\\w+'\n", 3, 12, "markers.pattern",
         "is not a regular expression (std::regex, ECMAScript): "},
        {"command: x\nmarkers:\n  pattern: 'case \\w+'\n", 3, 12, "markers.pattern",
         "has 0 capture groups, expected exactly one"},
        {"command: x\nmarkers:\n  pattern: '(a)(b)'\n", 3, 12, "markers.pattern", "has 2 capture groups"},
        {"command: x\nmarkers:\n  pattern: ''\n", 3, 12, "markers.pattern", "found an empty string"},
        {"defaults:\n  markers: {pattern: 'x'}\nsuites:\n  - {name: a, command: x}\n", 2, 22,
         "defaults.markers.pattern", "has 0 capture groups"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.yaml);
        ProfileError e = markers_error(c.yaml);
        CHECK(e.loc().line == c.line);
        CHECK(e.loc().column == c.column);
        CHECK(e.key() == c.key);
        CHECK_THAT(e.message(), Catch::Contains(c.part));
        CHECK_THAT(std::string(e.what()), Catch::StartsWith("m.yaml:" + std::to_string(c.line) + ":" +
                                                            std::to_string(c.column) + ": " + c.key + ": "));
    }
}

TEST_CASE("markers: the --markers flag takes auto, none or a regex with one group", "[markers][profile]") {
    CHECK(parse_markers_flag("auto").mode == MarkersSpec::Mode::Auto);
    CHECK(parse_markers_flag("none").mode == MarkersSpec::Mode::None);
    CHECK(parse_markers_flag("^ok (\\S+)").mode == MarkersSpec::Mode::Pattern);
    CHECK_THROWS_WITH(parse_markers_flag("ok \\S+"),
                      Catch::Contains("--markers") && Catch::Contains("0 capture groups"));
    CHECK_THROWS_WITH(parse_markers_flag("(unclosed"), Catch::Contains("std::regex"));
    CHECK_THROWS_AS(parse_markers_flag("[z-a](x)"), UsageError);
}
