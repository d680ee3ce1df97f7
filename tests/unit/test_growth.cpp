// Memory growth by marker (report/growth): attribution of the samples' changes to the marker running
// (Start/End, End only, several open at once), the classification on synthetic curves (steady, spike,
// plateau, flat, unknown, time-based without markers), the bound over a million markers, and a real
// pytest curve captured under corral (tests/fixtures/growth/pytest_leak.json).
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>

#include "corral/report/growth.hpp"
#include "vm_rss.hpp"

using namespace corral;
using corral::test::vm_rss;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

MarkerEvent started(const std::string& name, MarkerKind k = MarkerKind::Pytest) {
    return MarkerEvent{MarkerEvent::Type::Start, k, name};
}
MarkerEvent ended(const std::string& name, MarkerKind k = MarkerKind::Pytest) {
    return MarkerEvent{MarkerEvent::Type::End, k, name};
}

// Feeds a tracker as the run loop does: a sample every 100 ms, and at a marker a sample of its own
// just before it.
struct Feed {
    GrowthTracker g;
    double t = 0;
    std::mt19937_64 rng{12};

    void at(std::uint64_t bytes, double dt = 0.1) {
        t += dt;
        g.sample(t, bytes);
    }
    void mark(const MarkerEvent& ev, std::uint64_t bytes) {
        t += 0.001;
        g.sample(t, bytes);
        g.marker(t, ev);
    }
    std::uint64_t noise(std::uint64_t span) {
        return std::uniform_int_distribution<std::uint64_t>(0, span)(rng);
    }
    // 1 s of start-up rising to `to`
    void startup(std::uint64_t to) {
        for (int i = 1; i <= 10; ++i) at(to * i / 10);
    }
};

const GrowthMarker* find(const Growth& g, const std::string& name) {
    for (const auto& m : g.top)
        if (m.marker == name) return &m;
    return nullptr;
}

}  // namespace

TEST_CASE("growth: 64 tests each leaking 2 MiB over noise are steady, per_marker_bytes within 5 %") {
    Feed f;
    f.startup(38 * MiB);
    std::uint64_t level = 38 * MiB;
    for (int i = 0; i < 64; ++i) {
        const std::string name = "tests/test_unit_" + std::to_string(i) + ".py::test_b";
        f.mark(started(name), level + f.noise(256 * 1024));
        for (int k = 0; k < 3; ++k) f.at(level + k * MiB + f.noise(512 * 1024));
        level += 2 * MiB;
        f.mark(ended(name), level + f.noise(256 * 1024));
    }
    Growth g = f.g.finish({std::uint64_t{512} * MiB, false, f.t});
    INFO(g.summary);
    CHECK(g.pattern == "steady");
    CHECK(g.markers == 64);
    REQUIRE(g.marker_kind == MarkerKind::Pytest);
    REQUIRE(g.per_marker_bytes);
    CHECK(std::abs(static_cast<double>(*g.per_marker_bytes) - 2.0 * MiB) <= 0.05 * 2 * MiB);
    REQUIRE(g.r2);
    CHECK(*g.r2 >= 0.99);
    CHECK(g.slope_bytes_per_s > 0);
    CHECK(g.top.size() == 10);
    CHECK(g.summary.find("Memory grew steadily, 2 MiB per test over 64 tests") == 0);
    CHECK(g.summary.find("from 38") != std::string::npos);
    CHECK(g.summary.find("; largest step ") != std::string::npos);
}

TEST_CASE(
    "growth: one test loading 160 MiB and dropping it is a spike naming it, grew 160 MiB, net about 0") {
    Feed f;
    f.startup(40 * MiB);
    const std::string big = "tests/test_big.py::test_load";
    for (int i = 0; i < 20; ++i) {
        const std::string name = i == 7 ? big : "tests/test_small.py::test_" + std::to_string(i);
        f.mark(started(name), 40 * MiB + (i == 7 ? 0 : f.noise(64 * 1024)));
        if (i == 7) {
            for (int k = 1; k <= 4; ++k) f.at(40 * MiB + k * 40 * MiB);
            f.at(40 * MiB);
        } else {
            f.at(40 * MiB + f.noise(64 * 1024));
        }
        f.mark(ended(name), 40 * MiB);
    }
    Growth g = f.g.finish({std::uint64_t{512} * MiB, false, f.t});
    INFO(g.summary);
    CHECK(g.pattern == "spike");
    REQUIRE(!g.top.empty());
    CHECK(g.top.front().marker == big);
    CHECK(g.top.front().grew_bytes >= 160 * MiB);
    CHECK(g.top.front().grew_bytes <= 160 * MiB + 64 * 1024);
    CHECK(std::abs(g.top.front().net_bytes) <= 64 * 1024);
    CHECK(g.top.front().peak_bytes == 200 * MiB);
    CHECK(g.summary.find("One test used most of the memory: " + big +
                         " rose by 160 MiB (100 % of the peak") == 0);
    CHECK(g.summary.find("freeing it again by its end") != std::string::npos);
}

TEST_CASE("growth: at 96 % of memory.max for 30 % of the run is a plateau, for 10 % it is flat") {
    auto run = [](double share_at_limit, bool thrashing) {
        Feed f;
        f.startup(200 * MiB);
        const std::uint64_t max = 256 * MiB;
        const int n = 1000;
        for (int i = 0; i < n; ++i)
            f.at(i >= n * (1 - share_at_limit) ? max * 96 / 100 + f.noise(MiB) : 200 * MiB + f.noise(MiB));
        return f.g.finish({max, thrashing, f.t});
    };
    Growth g = run(0.30, false);
    INFO(g.summary);
    CHECK(g.pattern == "plateau");
    CHECK(g.summary.find(
              "Memory stayed at its limit: at 95 % or more of memory.max (256 MiB) for 30 % of the run") ==
          0);
    CHECK(run(0.10, false).pattern == "flat");
    // thrashing by PSI makes it a plateau without the limit
    CHECK(run(0.10, true).pattern == "plateau");
    CHECK(run(0.10, true).summary.find("PSI says the suite was thrashing") != std::string::npos);
}

TEST_CASE("growth: a leak that ends thrashing at its limit is still steady (spike, steady, plateau, flat)") {
    Feed f;
    f.startup(20 * MiB);
    std::uint64_t level = 20 * MiB;
    for (int i = 0; i < 100; ++i) {
        f.mark(ended("t" + std::to_string(i), MarkerKind::Cargo), level);
        level += 2 * MiB;
    }
    for (int i = 0; i < 200; ++i) f.at(level);  // stuck at its limit
    Growth g = f.g.finish({level, true, f.t});
    INFO(g.summary);
    CHECK(g.pattern == "steady");
    CHECK(growth_to_json(g)["marker_kind"] == "cargo");
}

TEST_CASE("growth: flat usage over tests is flat, per_marker_bytes near 0") {
    Feed f;
    f.startup(50 * MiB);
    for (int i = 0; i < 30; ++i) {
        const std::string name = "t" + std::to_string(i);
        f.mark(started(name, MarkerKind::Go), 50 * MiB + f.noise(MiB));
        f.at(50 * MiB + f.noise(MiB));
        f.mark(ended(name, MarkerKind::Go), 50 * MiB + f.noise(MiB));
    }
    Growth g = f.g.finish({std::uint64_t{1024} * MiB, false, f.t});
    INFO(g.summary);
    CHECK(g.pattern == "flat");
    REQUIRE(g.per_marker_bytes);
    CHECK(std::abs(*g.per_marker_bytes) < 100 * 1024);
    CHECK(g.summary.find("No leak, spike or plateau: memory went from ") == 0);
    CHECK(g.summary.find("over 30 tests") != std::string::npos);
}

TEST_CASE("growth: too few samples or markers is unknown, saying which") {
    {
        Feed f;
        for (int i = 0; i < 3; ++i) f.at(10 * MiB * (i + 1));
        Growth g = f.g.finish({});
        CHECK(g.pattern == "unknown");
        CHECK(g.summary == "Too few samples (3) to tell a pattern (at least 10 are needed).");
        CHECK(g.top.empty());
        CHECK_FALSE(g.r2);
    }
    {
        Feed f;
        f.startup(10 * MiB);
        for (int i = 0; i < 3; ++i) {
            f.mark(started("t" + std::to_string(i), MarkerKind::Counter), 10 * MiB);
            for (int k = 0; k < 5; ++k) f.at(10 * MiB + f.noise(512 * 1024));
            f.mark(ended("t" + std::to_string(i), MarkerKind::Counter), 10 * MiB);
        }
        Growth g = f.g.finish({});
        CHECK(g.pattern == "unknown");
        CHECK(g.summary == "Too few steps (3) to tell a pattern (at least 5 are needed).");
        CHECK_FALSE(g.per_marker_bytes);
    }
    {
        Feed f;  // no markers, half a second: all start-up
        for (int i = 0; i < 20; ++i) f.at(10 * MiB, 0.025);
        Growth g = f.g.finish({});
        CHECK(g.pattern == "unknown");
        CHECK(g.summary.find("Too few samples after start-up") == 0);
    }
}

TEST_CASE("growth: End-only markers each get the interval since the previous marker") {
    Feed f;
    f.startup(30 * MiB);
    std::uint64_t level = 30 * MiB;
    std::vector<double> ends;
    for (int i = 0; i < 10; ++i) {
        if (i == 5) {
            f.at(level + 6 * MiB);
            f.at(level + 10 * MiB);
            level += 4 * MiB;  // 10 MiB up, 6 MiB freed
        } else {
            f.at(level + MiB);
            level += MiB;
        }
        f.mark(ended("[gw0] t" + std::to_string(i)), level);
        ends.push_back(f.t);
    }
    f.at(level + 50 * MiB);  // after the last marker: the runner's end, nobody's
    Growth g = f.g.finish({});
    CHECK(g.markers == 10);
    const GrowthMarker* t5 = find(g, "[gw0] t5");
    REQUIRE(t5);
    CHECK(t5->grew_bytes == 10 * MiB);
    CHECK(t5->net_bytes == static_cast<std::int64_t>(4 * MiB));
    CHECK(t5->peak_bytes == 45 * MiB);  // 30, +1 for each of t0…t4, +10
    CHECK(t5->t_start_s == ends[4]);
    CHECK(t5->t_end_s == ends[5]);
    CHECK(g.top.front().marker == "[gw0] t5");
    // the first one's own part is the start-up's: an empty interval at its end
    const GrowthMarker* t0 = find(g, "[gw0] t0");
    REQUIRE(t0);
    CHECK(t0->grew_bytes == 0);
    CHECK(t0->t_start_s == t0->t_end_s);
    for (const auto& m : g.top) CHECK(m.grew_bytes < 50 * MiB);
}

TEST_CASE(
    "growth: Start/End markers: the gap between two markers is nobody's, peak and times are the marker's") {
    Feed f;
    f.startup(30 * MiB);
    f.mark(started("a"), 30 * MiB);
    const double a0 = f.t;
    f.at(35 * MiB);
    f.at(33 * MiB);
    f.mark(ended("a"), 34 * MiB);
    const double a1 = f.t;
    f.at(44 * MiB);  // between a and b: fixtures, collection…
    f.mark(started("b"), 44 * MiB);
    f.at(45 * MiB);
    f.mark(ended("b"), 45 * MiB);
    Growth g = f.g.finish({});
    const GrowthMarker* a = find(g, "a");
    const GrowthMarker* b = find(g, "b");
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->grew_bytes == 6 * MiB);  // 5 up, 2 down, 1 up
    CHECK(a->net_bytes == static_cast<std::int64_t>(4 * MiB));
    CHECK(a->peak_bytes == 35 * MiB);
    CHECK(a->t_start_s == a0);
    CHECK(a->t_end_s == a1);
    CHECK(b->grew_bytes == MiB);
    CHECK(g.top.front().marker == "a");
    CHECK(g.markers == 2);
}

TEST_CASE(
    "growth: with several markers open, a change goes to the latest started, and a marker open at the end "
    "runs until it") {
    Feed f;
    f.startup(10 * MiB);
    f.mark(started("#1 slow", MarkerKind::Ctest), 10 * MiB);
    f.at(12 * MiB);  // #1 alone: 2 MiB
    f.mark(started("#2 fast", MarkerKind::Ctest), 12 * MiB);
    f.at(20 * MiB);  // #2 latest started: 8 MiB
    f.mark(ended("#2 fast", MarkerKind::Ctest), 20 * MiB);
    f.at(23 * MiB);  // #1 again: 3 MiB
    f.mark(started("#3 open", MarkerKind::Ctest), 23 * MiB);
    f.at(24 * MiB);  // #3: 1 MiB
    f.mark(ended("#1 slow", MarkerKind::Ctest), 24 * MiB);
    f.at(27 * MiB);  // #3: 3 MiB, never ends
    Growth g = f.g.finish({});
    CHECK(g.markers == 3);
    REQUIRE(g.top.size() == 3);
    CHECK(g.top[0].marker == "#2 fast");
    CHECK(g.top[0].grew_bytes == 8 * MiB);
    CHECK(g.top[1].marker == "#1 slow");
    CHECK(g.top[1].grew_bytes == 5 * MiB);
    CHECK(g.top[1].net_bytes == static_cast<std::int64_t>(14 * MiB));  // the box's usage: #2's part too
    CHECK(g.top[1].peak_bytes == 24 * MiB);
    CHECK(g.top[2].marker == "#3 open");
    CHECK(g.top[2].grew_bytes == 4 * MiB);
    CHECK(g.top[2].t_end_s == f.t);
}

TEST_CASE("growth: of equal rises the earlier marker ranks first") {
    Feed f;
    f.startup(10 * MiB);
    std::uint64_t level = 10 * MiB;
    for (int i = 0; i < 15; ++i) {
        level += MiB;
        f.at(level);
        f.mark(ended("t" + std::to_string(i)), level);
    }
    Growth g = f.g.finish({});
    REQUIRE(g.top.size() == 10);
    // t0 is the empty first interval; t1… rose by 1 MiB each
    for (std::size_t i = 0; i < 10; ++i) CHECK(g.top[i].marker == "t" + std::to_string(i + 1));
}

TEST_CASE("growth: without markers, a rise over time after start-up is steady, per second") {
    Feed f;
    for (int i = 0; i < 5; ++i) f.at(40 * MiB);  // start-up: the interpreter loads
    for (int i = 0; i < 600; ++i) f.at(40 * MiB + static_cast<std::uint64_t>(i * 0.1 * MiB) + f.noise(MiB));
    Growth g = f.g.finish({std::uint64_t{1024} * MiB, false, f.t});
    INFO(g.summary);
    CHECK(g.pattern == "steady");
    CHECK(g.markers == 0);
    CHECK_FALSE(g.marker_kind);
    CHECK_FALSE(g.per_marker_bytes);
    CHECK(std::abs(g.slope_bytes_per_s - 1.0 * MiB) <= 0.05 * MiB);
    REQUIRE(g.r2);
    CHECK(*g.r2 >= 0.8);
    CHECK(g.summary.find("Memory grew steadily, ") == 0);
    CHECK(g.summary.find(" per second over ") != std::string::npos);
    nlohmann::json j = growth_to_json(g);
    CHECK(j["marker_kind"].is_null());
    CHECK(j["per_marker_bytes"].is_null());
    CHECK(j["pattern"] == "steady");
}

TEST_CASE("growth: the JSON object has exactly the schema's fields") {
    Feed f;
    f.startup(10 * MiB);
    for (int i = 0; i < 12; ++i)
        f.mark(ended("t" + std::to_string(i), MarkerKind::Regex), 10 * MiB + i * MiB);
    nlohmann::json j = growth_to_json(f.g.finish({}));
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"marker_kind", "markers", "pattern", "per_marker_bytes", "r2",
                                           "slope_bytes_per_s", "summary", "top"});
    CHECK(j["markers"] == 12);
    CHECK(j["marker_kind"] == "regex");
    CHECK(j["per_marker_bytes"].is_number_integer());
    CHECK(j["r2"].is_number());
    CHECK(j["slope_bytes_per_s"].is_number());
    REQUIRE(j["top"].size() == 10);
    keys.clear();
    for (const auto& [k, v] : j["top"][0].items()) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"grew_bytes", "marker", "net_bytes", "peak_bytes", "t_end_s",
                                           "t_start_s"});
    CHECK(j["summary"].get<std::string>().find("per marker over 12 markers") != std::string::npos);
}

TEST_CASE("growth: a million markers and a day of samples keep the tracker small") {
    const std::uint64_t before = vm_rss();
    Feed f;
    f.startup(100 * MiB);
    for (int i = 0; i < 1'000'000; ++i) {
        const std::uint64_t level = 100 * MiB + (i % 1000) * 4096;
        f.at(level, 0.05);
        f.mark(ended("tests/test_module_" + std::to_string(i) + ".py::test_case_with_a_long_name"), level);
    }
    Growth g = f.g.finish({});
    const std::uint64_t after = vm_rss();
    CHECK(g.markers == 1'000'000);
    CHECK(g.top.size() <= 10);
    CHECK(g.pattern != "unknown");
    // a million names alone would take over 60 MiB
#if defined(__SANITIZE_ADDRESS__)
    // An ASan build's RSS is ASan's (its quarantine of freed blocks, its shadow memory): the bound is
    // checked in the normal build's pass of the unit tier.
    (void)before;
    (void)after;
    WARN("the tracker's RSS bound not checked in the ASan build");
#else
    CHECK(after < before + 8 * MiB);
#endif
}

TEST_CASE("growth: a real pytest -v curve captured under corral (2 MiB per test) is steady within 30 %") {
    std::ifstream in(std::string(CORRAL_FIXTURES_DIR) + "/growth/pytest_leak.json");
    REQUIRE(in);
    const nlohmann::json fx = nlohmann::json::parse(in);
    const double truth = fx.at("leak_per_test_bytes").get<double>();
    // The samples keep the last complete line: a new "NODE PASSED" line says that NODE ended by then
    // (End only; the run loop will also see pytest -v's partial line, the Start).
    const std::regex passed(R"(^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b)");
    GrowthTracker tracker;
    std::string last;
    double t_end = 0;
    for (const auto& s : fx.at("samples")) {
        const double t = s.at(0).get<double>();
        const std::string line = s.at(2).get<std::string>();
        tracker.sample(t, s.at(1).get<std::uint64_t>());
        std::smatch m;
        if (std::regex_search(line, m, passed) && m[1] != last) {
            last = m[1];
            tracker.marker(t, ended(last));
        }
        t_end = t;
    }
    Growth g = tracker.finish({std::uint64_t{512} * MiB, false, t_end});
    INFO(g.summary);
    CHECK(g.pattern == "steady");
    CHECK(g.markers >= 35);
    REQUIRE(g.per_marker_bytes);
    CHECK(std::abs(static_cast<double>(*g.per_marker_bytes) - truth) <= 0.3 * truth);
    CHECK(g.summary.find("per test over") != std::string::npos);
}
