// PSI summaries and the thrashing rule; memory.high and oom_group clauses of the explanation.
#include <catch2/catch.hpp>

#include "corral/box/cgroup_util.hpp"
#include "corral/box/cgroup_v2.hpp"
#include "corral/report/result.hpp"

using namespace corral;
using Catch::Matchers::Contains;

namespace {

// Samples every `step` seconds for `secs`; `full_share(t)` is the fraction of time stalled from t on.
std::vector<PressureSample> curve(double secs, double step, const std::function<double(double)>& full_share) {
    std::vector<PressureSample> out;
    double full_us = 0;
    for (double t = 0; t <= secs + 1e-9; t += step) {
        PressureSample p;
        p.t_s = t;
        p.full_total_us = static_cast<std::uint64_t>(full_us);
        p.some_total_us = static_cast<std::uint64_t>(full_us * 1.5);
        out.push_back(p);
        full_us += full_share(t) * step * 1e6;
    }
    return out;
}

SuiteResult passed_with(const std::vector<PressureSample>& pressure) {
    SuiteResult r;
    r.name = "mut";
    r.exit_code = 0;
    r.duration_s = 20;
    for (const auto& p : pressure) r.pressure.append(p);
    return r;
}

}  // namespace

TEST_CASE("summarize_pressure: no samples means PSI was not available", "[pressure]") {
    PressureSummary s = summarize_pressure({});
    CHECK_FALSE(s.available);
    CHECK_FALSE(s.thrashing);
}

TEST_CASE("summarize_pressure: totals and the worst window", "[pressure]") {
    // 2 s calm, then 6 s at 60% full stall, then calm again.
    auto c = curve(12, 0.1, [](double t) { return t >= 2 && t < 8 ? 0.6 : 0.0; });
    PressureSummary s = summarize_pressure(c);
    CHECK(s.available);
    CHECK(s.full_total_s == Approx(3.6).margin(0.1));
    CHECK(s.some_total_s == Approx(5.4).margin(0.15));
    CHECK(s.worst_full_percent == Approx(60).margin(1));
    CHECK(s.worst_window_s >= kThrashingWindowS);
    CHECK(s.worst_window_s < kThrashingWindowS + 0.2);
    CHECK(s.worst_start_s >= 1.9);
    CHECK(s.worst_start_s <= 3.1);
    CHECK(s.thrashing);
}

TEST_CASE("summarize_pressure: the threshold needs both the share and the time", "[pressure]") {
    SECTION("just under the share for the whole run") {
        auto s = summarize_pressure(curve(20, 0.1, [](double) { return 0.19; }));
        CHECK(s.worst_full_percent == Approx(19).margin(0.5));
        CHECK_FALSE(s.thrashing);
    }
    SECTION("at the share for the whole run") {
        auto s = summarize_pressure(curve(20, 0.1, [](double) { return 0.21; }));
        CHECK(s.thrashing);
    }
    SECTION("a burst shorter than the window, diluted below the share") {
        // 100% for 0.5 s: at most 10% of any 5 s window.
        auto s = summarize_pressure(curve(20, 0.1, [](double t) { return t >= 5 && t < 5.5 ? 1.0 : 0.0; }));
        CHECK(s.worst_full_percent == Approx(10).margin(2.5));
        CHECK_FALSE(s.thrashing);
    }
    SECTION("a run shorter than the window is never thrashing, whatever the share") {
        auto s = summarize_pressure(curve(3, 0.1, [](double) { return 1.0; }));
        CHECK(s.worst_full_percent == Approx(100).margin(4));
        CHECK(s.worst_window_s == Approx(3).margin(0.01));
        CHECK_FALSE(s.thrashing);
    }
    SECTION("sparse samples (1 s apart) still find the window") {
        auto s = summarize_pressure(curve(30, 1.0, [](double t) { return t >= 10 && t < 20 ? 0.9 : 0.0; }));
        CHECK(s.thrashing);
        CHECK(s.worst_full_percent == Approx(90).margin(1));
    }
}

TEST_CASE("summarize_pressure: counters that go backwards are not stalls", "[pressure]") {
    auto c = curve(10, 0.5, [](double) { return 0.0; });
    c[5].full_total_us = 5'000'000;  // a bogus spike; the next sample is lower again
    auto s = summarize_pressure(c);
    CHECK(s.worst_full_percent <= 100);
}

TEST_CASE("explanation: a passing suite that thrashed says so, with the numbers and the threshold", "[pressure]") {
    SuiteResult r = passed_with(curve(20, 0.1, [](double t) { return t >= 4 ? 0.63 : 0.0; }));
    finalize(r);
    CHECK(r.verdict == Verdict::Passed);
    CHECK_THAT(r.explanation, Contains("Exited 0 after 20s"));
    CHECK_THAT(r.explanation, Contains("it was thrashing: all its tasks were stalled on memory (PSI full) 63% of the time"));
    CHECK_THAT(r.explanation, Contains("(threshold 20% over 5s)"));

    SuiteResult calm = passed_with(curve(20, 0.1, [](double) { return 0.01; }));
    finalize(calm);
    CHECK_THAT(calm.explanation, !Contains("thrashing"));
}

TEST_CASE("explanation: memory.high throttling and memory.oom_group", "[pressure]") {
    SuiteResult r = passed_with({});
    r.limits.memory_high = 32 * 1024 * 1024;
    r.memory_events = {{"high", 154}, {"max", 0}};
    finalize(r);
    CHECK_THAT(r.explanation, Contains("it went over its memory.high of 32 MiB and was throttled (memory.events high 154)"));

    SuiteResult g = passed_with({});
    g.limits.memory_max = 64 * 1024 * 1024;
    g.limits.oom_group = true;
    g.oom_kills = 3;
    finalize(g);
    CHECK(g.verdict == Verdict::OomKilled);
    CHECK_THAT(g.explanation, !Contains("memory.oom_group"));  // set, but the group kill did not happen
    g.oom_group_killed = true;
    finalize(g);
    CHECK_THAT(g.explanation, Contains("memory.oom_group ended the whole suite"));
}

TEST_CASE("parse_pressure reads a memory.pressure file", "[pressure]") {
    auto p = parse_pressure("some avg10=12.50 avg60=3.00 avg300=0.50 total=1234567\n"
                            "full avg10=10.25 avg60=2.00 avg300=0.25 total=987654\n");
    CHECK(p.some_avg10 == Approx(12.5));
    CHECK(p.full_avg10 == Approx(10.25));
    CHECK(p.some_total_us == 1234567);
    CHECK(p.full_total_us == 987654);
}

TEST_CASE("parse_controller_list splits cgroup.controllers", "[cgroup]") {
    CHECK(parse_controller_list("cpuset cpu io memory hugetlb pids rdma misc\n") ==
          std::vector<std::string>{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"});
    CHECK(parse_controller_list("\n").empty());
    CHECK(parse_controller_list("").empty());
}
