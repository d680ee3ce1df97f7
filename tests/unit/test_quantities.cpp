#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>
#include <string>

#include "corral/profile/quantities.hpp"

using namespace corral;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t TiB = 1024 * GiB;

// The what() of the std::invalid_argument that `fn` throws ("" when it does not throw).
template <class Fn>
std::string invalid_argument_text(Fn fn) {
    try {
        fn();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

struct SizeCase {
    std::string text;
    std::uint64_t bytes;
};

struct DurationCase {
    std::string text;
    Duration value;
};

struct BadCase {
    std::string text;
    std::string message_part;
};

}  // namespace

TEST_CASE("parse_size accepts bytes, binary suffixes, fractions and infinity", "[units]") {
    auto c = GENERATE(values<SizeCase>({
        {"0", 0},
        {"1", 1},
        {"512", 512},
        {"4096B", 4096},
        {"4096 b", 4096},
        {"1K", KiB},
        {"1k", KiB},
        {"1KB", KiB},
        {"1KiB", KiB},
        {"1kib", KiB},
        {"512M", 512 * MiB},
        {"512MiB", 512 * MiB},
        {"512mb", 512 * MiB},
        {"2G", 2 * GiB},
        {"2 GiB", 2 * GiB},
        {"1T", TiB},
        {"1.5G", GiB + GiB / 2},
        {"0.5M", MiB / 2},
        {"1.25K", 1280},
        {"0.1K", 102},  // 102.4 rounds to the nearest byte
        {"  256M  ", 256 * MiB},
        {"18446744073709551614", kInfinity - 1},
        {"infinity", kInfinity},
        {"Infinity", kInfinity},
        {"max", kInfinity},
        {"MAX", kInfinity},
    }));
    CAPTURE(c.text);
    CHECK(parse_size(c.text) == c.bytes);
}

TEST_CASE("parse_size rejects what is not a size, saying what was expected", "[units]") {
    auto c = GENERATE(values<BadCase>({
        {"", "expected a size such as 512M, 2G or infinity"},
        {"   ", "expected a size such as 512M, 2G or infinity"},
        {"M", "expected a size such as 512M, 2G or infinity"},
        {"abc", "expected a size such as 512M, 2G or infinity"},
        {"512X", "unknown unit 'X': expected a size such as 512M, 2G or infinity"},
        {"512MBs", "unknown unit 'MBs'"},
        {"1P", "unknown unit 'P'"},
        {"5 apples", "unknown unit 'apples'"},
        {"-1", "cannot be negative"},
        {"-5M", "cannot be negative"},
        {"1.5", "whole number"},
        {"1e9", "expected a size"},
        {"1G2", "expected a size"},
        {"0x10", "expected a size"},
        {"12 34", "expected a size"},
        {"18446744073709551615", "too large"},
        {"99999999999999999999", "expected a size"},
        {"16777216T", "too large"},
    }));
    CAPTURE(c.text);
    CHECK_THAT(invalid_argument_text([&] { parse_size(c.text); }), Catch::Contains(c.message_part));
}

TEST_CASE("parse_duration accepts one or more number+unit parts", "[units]") {
    auto c = GENERATE(values<DurationCase>({
        {"0s", 0s},
        {"1us", 1us},
        {"250ms", 250ms},
        {"90s", 90s},
        {"5m", 5min},
        {"2h", 2h},
        {"1d", 24h},
        {"1h30m", 90min},
        {"1h 30m", 90min},
        {"2m30s", 150s},
        {"1d2h3m4s5ms6us", 24h + 2h + 3min + 4s + 5ms + 6us},
        {"1.5s", 1500ms},
        {"0.5ms", 500us},
        {"1.000001s", 1000001us},
        {"1.5h", 90min},
        {" 30 s ", 30s},
        {"10MS", 10ms},
        {"30S", 30s},
    }));
    CAPTURE(c.text);
    CHECK(parse_duration(c.text) == c.value);
}

TEST_CASE("parse_duration rejects bare numbers and unknown units", "[units]") {
    auto c = GENERATE(values<BadCase>({
        {"30", "missing unit: add a unit, e.g. 30s"},
        {"0", "add a unit, e.g. 0s"},
        {"1.5", "add a unit, e.g. 1.5s"},
        {"1h30", "add a unit, e.g. 30s"},
        {"", "expected a duration such as 250ms, 90s or 1h30m"},
        {"s", "expected a duration such as 250ms, 90s or 1h30m"},
        {"soon", "expected a duration"},
        {"infinity", "expected a duration"},
        {"5 minutes", "unknown unit 'minutes': expected a duration such as 250ms, 90s or 1h30m"},
        {"10sec", "unknown unit 'sec'"},
        {"3w", "unknown unit 'w'"},
        {"1ns", "unknown unit 'ns'"},
        {"-5s", "cannot be negative"},
        {"5s-", "expected a duration"},
        {"1e3s", "unknown unit 'e'"},
        {"999999999999d", "too large"},
        {"100000000d100000000d", "too large"},
    }));
    CAPTURE(c.text);
    CHECK_THAT(invalid_argument_text([&] { parse_duration(c.text); }), Catch::Contains(c.message_part));
}

TEST_CASE("format_bytes picks the largest binary unit, one decimal when not whole", "[units]") {
    auto c = GENERATE(values<SizeCase>({
        {"0 B", 0},
        {"512 B", 512},
        {"1023 B", 1023},
        {"1 KiB", KiB},
        {"1.5 KiB", KiB + 512},
        {"256 MiB", 256 * MiB},
        {"1.5 GiB", GiB + GiB / 2},
        {"2 GiB", 2 * GiB},
        {"1.2 GiB", GiB + GiB / 5},
        {"1 GiB", GiB - 1},  // 1023.99… MiB rounds up to the next unit, not to "1024 MiB"
        {"3 TiB", 3 * TiB},
        {"2 PiB", 2048 * TiB},
        {"infinity", kInfinity},
    }));
    CAPTURE(c.bytes);
    CHECK(format_bytes(c.bytes) == c.text);
}

TEST_CASE("format_duration writes the shortest exact form", "[units]") {
    auto c = GENERATE(values<DurationCase>({
        {"0s", 0s},
        {"1us", 1us},
        {"999us", 999us},
        {"1ms", 1ms},
        {"250ms", 250ms},
        {"1.5ms", 1500us},
        {"1s", 1s},
        {"1.5s", 1500ms},
        {"59.999999s", 59999999us},
        {"1m", 60s},
        {"2m30s", 150s},
        {"1h30m", 90min},
        {"1h0.5s", 3600500ms},
        {"1d", 24h},
        {"2d3h4m5s", 48h + 3h + 4min + 5s},
        {"-2s", -2s},
    }));
    CAPTURE(c.text);
    CHECK(format_duration(c.value) == c.text);
}

TEST_CASE("format_duration output parses back to the same duration", "[units]") {
    auto d = GENERATE(as<Duration>{}, 1us, 7ms, 1234567us, 59s, 61s, 3599s, 90min + 1us, 36h + 17s, 400h);
    CAPTURE(d.count());
    CHECK(parse_duration(format_duration(d)) == d);
}

TEST_CASE("format_bytes output of whole units parses back", "[units]") {
    auto bytes = GENERATE(std::uint64_t{0}, 512, KiB, 3 * MiB, GiB + GiB / 2, 5 * TiB, kInfinity);
    CAPTURE(bytes);
    CHECK(parse_size(format_bytes(bytes)) == bytes);
}

TEST_CASE("to_seconds converts microseconds to fractional seconds", "[units]") {
    CHECK(to_seconds(0s) == 0.0);
    CHECK(to_seconds(1500ms) == Approx(1.5));
    CHECK(to_seconds(1us) == Approx(1e-6));
    CHECK(to_seconds(2h) == Approx(7200.0));
}

TEST_CASE("a CPU quota is one conversion for every backend, inside the range the kernel takes", "[quantities][cpu]") {
    SECTION("cgroup files and systemd's CPUQuotaPerSecUSec") {
        struct Case {
            double percent;
            std::uint64_t quota_us, per_sec_usec;
        };
        auto c = GENERATE(values<Case>({{50, 50'000, 500'000},
                                        {100, 100'000, 1'000'000},
                                        {150, 150'000, 1'500'000},
                                        {2.5, 2'500, 25'000},
                                        {1, 1'000, 10'000}}));
        CAPTURE(c.percent);
        const CpuQuota q = cpu_quota_from_percent(c.percent);
        CHECK(q.period_us == 100'000);
        CHECK(q.quota_us == c.quota_us);
        CHECK(q.per_sec_usec() == c.per_sec_usec);
    }
    SECTION("the largest quota the kernel takes") {
        const CpuQuota q = cpu_quota_from_percent(cpu_quota_max_percent());
        CHECK(q.quota_us == kCpuQuotaMaxUs);
        CHECK(q.per_sec_usec() == kCpuQuotaMaxUs * 10);
    }
    SECTION("out of range: no clamping, no overflow, a message with the range") {
        struct Bad {
            double percent;
            const char* says;
        };
        auto b = GENERATE(values<Bad>({{1e20, "is above the kernel's largest quota, 17592186044%"},
                                       {1.8e10, "is above the kernel's largest quota"},
                                       {0.0001, "is below the kernel's smallest quota, 1% (1000 µs of CPU per 100 ms period)"},
                                       {0.99, "is below the kernel's smallest quota"},
                                       {0, "expected a percentage above 0%"},
                                       {-5, "expected a percentage above 0%"},
                                       {std::numeric_limits<double>::infinity(), "expected a percentage above 0%"},
                                       {std::numeric_limits<double>::quiet_NaN(), "expected a percentage above 0%"}}));
        CAPTURE(b.percent);
        CHECK_THROWS_WITH(cpu_quota_from_percent(b.percent), Catch::Contains(b.says));
    }
}
