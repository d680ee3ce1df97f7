// OOM records without their header (the kernel rate-limits it in a storm): whose limit from the box's
// counters, the nearest complete record, or unknown with the reason — never a guess.
#include <catch2/catch.hpp>

#include "corral/oom/attribution.hpp"
#include "corral/profile/quantities.hpp"

using namespace corral;

namespace {
constexpr std::uint64_t MiB = 1024 * 1024;
}

TEST_CASE("a record without header: the box's own-limit count or its usage at memory.max make it own",
          "[oom][headerless]") {
    // Samples every 100 ms from t=10; the box's creation zeros first.
    std::vector<OomCounterSample> c{{9.9, 0, 0, 0}};
    for (int i = 0; i <= 20; ++i) c.push_back({10.0 + 0.1 * i, 0, 0, 40 * MiB});
    SECTION("the own-limit count rose around the kill") {
        for (auto& s : c)
            if (s.t_s > 10.95) {
                s.own_limit_hits = 7;
                s.kills = 1;
            }
        auto a = whose_without_header(11.02, c, "memory.failcnt", 64 * MiB, false, {});
        CHECK(a.whose == WhoseLimit::Own);
        CHECK_THAT(a.reason, Catch::Contains("memory.failcnt rose from 0 to 7"));
        CHECK_THAT(a.reason, Catch::Contains("rate-limits"));
    }
    SECTION("the count rose some reclaim attempts before the kill, in the window") {
        for (auto& s : c) {
            if (s.t_s > 10.45) s.own_limit_hits = 3;
            if (s.t_s > 11.05) s.kills = 1;
        }
        CHECK(whose_without_header(11.02, c, "memory.events oom", 64 * MiB, false, {}).whose == WhoseLimit::Own);
    }
    SECTION("usage at memory.max") {
        for (auto& s : c)
            if (s.t_s > 10.95) {
                s.memory_bytes = 64 * MiB - 4096;
                s.kills = 1;
            }
        auto a = whose_without_header(11.02, c, "memory.failcnt", 64 * MiB, false, {});
        CHECK(a.whose == WhoseLimit::Own);
        CHECK_THAT(a.reason, Catch::Contains("its usage reached"));
    }
    SECTION("neither while the kill count rose: an ancestor's limit, with the evidence") {
        for (auto& s : c)
            if (s.t_s > 11.05) s.kills = 1;
        auto a = whose_without_header(11.02, c, "memory.events oom", 64 * MiB, false, {});
        CHECK(a.whose == WhoseLimit::Ancestor);
        CHECK_THAT(a.reason, Catch::Contains("stayed at 0") && Catch::Contains("from 0 to 1"));
    }
}

TEST_CASE("a record without header: the nearest complete record of the box, else unknown with the reason",
          "[oom][headerless]") {
    std::vector<OomCounterSample> flat{{9.9, 0, 0, 0}, {10.0, 0, 0, 1 * MiB}, {10.1, 0, 0, 1 * MiB}};
    SECTION("no sample after the kill: the nearest complete record within the window decides") {
        std::vector<std::pair<double, WhoseLimit>> complete{{3.0, WhoseLimit::Ancestor}, {14.0, WhoseLimit::Own}};
        auto a = whose_without_header(12.0, flat, "memory.failcnt", 64 * MiB, false, complete);
        CHECK(a.whose == WhoseLimit::Own);
        CHECK_THAT(a.reason, Catch::Contains("no sample of the box's counters came after the kill") &&
                                 Catch::Contains("nearest complete record") && Catch::Contains("2s after"));
    }
    SECTION("counters that did not move and no record near: unknown, saying why") {
        flat.push_back({12.5, 0, 0, 1 * MiB});
        std::vector<std::pair<double, WhoseLimit>> far{{0.5, WhoseLimit::Own}};
        auto a = whose_without_header(12.0, flat, "memory.failcnt", 64 * MiB, false, far);
        CHECK(a.whose == WhoseLimit::Unknown);
        CHECK_THAT(a.reason, Catch::Contains("did not change") && Catch::Contains("no complete record"));
        CHECK(whose_limit_name(a.whose) == "unknown");
    }
    SECTION("the box has ended: its last counters count every kill in it, however close to the stamp") {
        flat.push_back({12.1, 1, 1, 64 * MiB});  // the counters read as the suite ended
        auto a = whose_without_header(12.0, flat, "memory.events oom", 64 * MiB, true, {});
        CHECK(a.whose == WhoseLimit::Own);
        CHECK(whose_without_header(12.0, flat, "memory.events oom", 64 * MiB, false, {}).whose == WhoseLimit::Unknown);
    }
    SECTION("a box without counters") {
        auto a = whose_without_header(12.0, {}, "", std::nullopt, false, {});
        CHECK(a.whose == WhoseLimit::Unknown);
        CHECK_THAT(a.reason, Catch::Contains("no OOM counters"));
    }
}
