#include "corral/profile/quantities.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace corral {

namespace {

constexpr const char* kSizeExpected = "expected a size such as 512M, 2G or infinity";
constexpr const char* kDurationExpected = "expected a duration such as 250ms, 90s or 1h30m";

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A non-negative decimal number "123" or "1.25", kept exact: whole part and fraction digits.
struct Decimal {
    unsigned __int128 whole = 0;
    std::uint64_t frac = 0;      // fraction digits as an integer ("25" for .25)
    std::uint64_t frac_den = 1;  // 10^(number of fraction digits kept)
    bool has_fraction() const { return frac != 0; }
};

// Reads a decimal number at the start of `s`, advancing it. Returns nullopt when there is none.
// Fraction digits beyond 18 are ignored (below any precision that matters here).
std::optional<Decimal> take_decimal(std::string_view& s, const char* expected) {
    Decimal d;
    std::size_t i = 0;
    bool digits = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        d.whole = d.whole * 10 + static_cast<unsigned>(s[i] - '0');
        if (d.whole > std::numeric_limits<std::uint64_t>::max()) throw std::invalid_argument(expected);
        digits = true;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        for (int kept = 0; i < s.size() && is_digit(s[i]); ++i, digits = true) {
            if (kept++ >= 18) continue;
            d.frac = d.frac * 10 + static_cast<unsigned>(s[i] - '0');
            d.frac_den *= 10;
        }
    }
    if (!digits) return std::nullopt;
    s.remove_prefix(i);
    return d;
}

// d * unit, rounded to the nearest integer; nullopt when it does not fit below `limit`.
std::optional<std::uint64_t> scale(const Decimal& d, std::uint64_t unit, std::uint64_t limit) {
    using U128 = unsigned __int128;
    // whole < 2^64, frac < 2^60 and unit <= 2^40: nothing here overflows 128 bits.
    U128 total = d.whole * unit;
    total += (static_cast<U128>(d.frac) * unit + d.frac_den / 2) / d.frac_den;
    if (total >= limit) return std::nullopt;
    return static_cast<std::uint64_t>(total);
}

// Splits "<unit><rest>" at the end of the alphabetic run.
std::string take_unit(std::string_view& s) {
    std::size_t i = 0;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string unit = lower(s.substr(0, i));
    s.remove_prefix(i);
    return unit;
}

std::string unknown_unit(std::string_view unit, const char* expected) {
    return fmt::format("unknown unit '{}': {}", unit, expected);
}

// Trims trailing zeros (and a trailing '.') from a fixed-point rendering.
std::string trim_zeros(std::string s) {
    if (s.find('.') == std::string::npos) return s;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
    std::string_view s = trim(text);
    std::string word = lower(s);
    if (word == "infinity" || word == "max") return kInfinity;
    if (!s.empty() && s.front() == '-')
        throw std::invalid_argument(std::string("a size cannot be negative: ") + kSizeExpected);
    auto number = take_decimal(s, kSizeExpected);
    if (!number) throw std::invalid_argument(kSizeExpected);
    s = trim(s);
    std::string_view unit_text = s;
    std::string unit = take_unit(s);
    if (!s.empty()) throw std::invalid_argument(kSizeExpected);

    static constexpr std::array<char, 4> kPrefixes = {'k', 'm', 'g', 't'};
    std::uint64_t mult = 1;
    if (!unit.empty() && unit != "b") {
        bool known = false;
        for (std::size_t i = 0; i < kPrefixes.size(); ++i) {
            if (unit[0] != kPrefixes[i]) continue;
            std::string_view tail = std::string_view(unit).substr(1);
            if (tail.empty() || tail == "b" || tail == "ib") {
                mult = std::uint64_t{1} << (10 * (i + 1));
                known = true;
            }
        }
        if (!known) throw std::invalid_argument(unknown_unit(unit_text, kSizeExpected));
    }
    if (mult == 1 && number->has_fraction())
        throw std::invalid_argument(
            std::string("a byte count must be a whole number (fractions need a unit, e.g. 1.5G): ") +
            kSizeExpected);
    auto bytes = scale(*number, mult, kInfinity);
    if (!bytes) throw std::invalid_argument(std::string("size too large: ") + kSizeExpected);
    return *bytes;
}

Duration parse_duration(std::string_view text) {
    std::string_view s = trim(text);
    if (!s.empty() && s.front() == '-')
        throw std::invalid_argument(std::string("a duration cannot be negative: ") + kDurationExpected);
    struct Unit {
        const char* name;
        std::uint64_t us;
    };
    static constexpr std::array<Unit, 6> kUnits = {
        {{"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000}, {"d", 86400000000}}};
    constexpr auto kLimit = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
    std::uint64_t total = 0;
    bool any = false;
    while (!s.empty()) {
        std::string_view part_start = s;
        auto number = take_decimal(s, kDurationExpected);
        if (!number) throw std::invalid_argument(kDurationExpected);
        s = trim(s);
        std::string_view unit_text = s;
        std::string unit = take_unit(s);
        if (unit.empty()) {
            if (!s.empty()) throw std::invalid_argument(kDurationExpected);
            throw std::invalid_argument(fmt::format("missing unit: add a unit, e.g. {}s", trim(part_start)));
        }
        const Unit* found = nullptr;
        for (const Unit& u : kUnits)
            if (unit == u.name) found = &u;
        if (!found) {
            unit_text = unit_text.substr(0, unit.size());
            throw std::invalid_argument(unknown_unit(unit_text, kDurationExpected));
        }
        auto us = scale(*number, found->us, kLimit);
        if (!us || *us >= kLimit - total)
            throw std::invalid_argument(std::string("duration too large: ") + kDurationExpected);
        total += *us;
        any = true;
        s = trim(s);
    }
    if (!any) throw std::invalid_argument(kDurationExpected);
    return Duration(static_cast<Duration::rep>(total));
}

std::string format_bytes(std::uint64_t bytes) {
    if (bytes == kInfinity) return "infinity";
    if (bytes < 1024) return fmt::format("{} B", bytes);
    static constexpr std::array<const char*, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    std::size_t i = 0;
    double value = static_cast<double>(bytes) / 1024.0;
    // Move up while the value (as it will be rounded to one decimal) reaches 1024.
    while (i + 1 < kUnits.size() && std::round(value * 10.0) >= 1024.0 * 10.0) {
        value /= 1024.0;
        ++i;
    }
    return fmt::format("{} {}", trim_zeros(fmt::format("{:.1f}", value)), kUnits[i]);
}

std::string format_duration(Duration d) {
    if (d.count() < 0) return "-" + format_duration(-d);
    const std::uint64_t us = static_cast<std::uint64_t>(d.count());
    if (us == 0) return "0s";
    if (us < 1000) return fmt::format("{}us", us);
    if (us < 1000000) return trim_zeros(fmt::format("{}.{:03}", us / 1000, us % 1000)) + "ms";
    std::string out;
    std::uint64_t secs = us / 1000000;
    static constexpr std::array<std::pair<const char*, std::uint64_t>, 3> kParts = {
        {{"d", 86400}, {"h", 3600}, {"m", 60}}};
    for (const auto& [unit, size] : kParts) {
        if (secs >= size) {
            out += fmt::format("{}{}", secs / size, unit);
            secs %= size;
        }
    }
    std::uint64_t frac = us % 1000000;
    if (secs != 0 || frac != 0) out += trim_zeros(fmt::format("{}.{:06}", secs, frac)) + "s";
    return out;
}

double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1e6; }

std::string format_seconds(double s) {
    if (!(s >= 0)) s = 0;
    if (s < 0.9995) return fmt::format("{}ms", static_cast<long long>(std::llround(s * 1000)));
    if (s < 59.95) {
        // Two decimals under 10s, one above; no trailing zeros ("1.2s", "2.31s", "5s").
        std::string out = fmt::format("{:.{}f}", s, s < 10 ? 2 : 1);
        while (out.back() == '0') out.pop_back();
        if (out.back() == '.') out.pop_back();
        return out + "s";
    }
    return format_duration(std::chrono::seconds(std::llround(s)));
}

std::uint64_t CpuQuota::per_sec_usec() const {
    // quota_us ≤ 2^44 and period_us ≥ 1: no overflow in the product below 2^64 / 10^6 ≈ 1.8e13.
    return static_cast<std::uint64_t>(std::llround(static_cast<double>(quota_us) * 1e6 / static_cast<double>(period_us)));
}

double cpu_quota_min_percent() { return 100.0 * static_cast<double>(kCpuQuotaMinUs) / kCpuPeriodUs; }
double cpu_quota_max_percent() { return 100.0 * static_cast<double>(kCpuQuotaMaxUs) / kCpuPeriodUs; }

CpuQuota cpu_quota_from_percent(double percent) {
    if (!std::isfinite(percent) || percent <= 0)
        throw std::invalid_argument(fmt::format("expected a percentage above 0% such as 150%, found {}%", percent));
    const double quota = percent * static_cast<double>(kCpuPeriodUs) / 100.0;
    if (quota < static_cast<double>(kCpuQuotaMinUs) - 0.5)
        throw std::invalid_argument(fmt::format(
            "{}% is below the kernel's smallest quota, {}% ({} µs of CPU per {} ms period)", percent,
            cpu_quota_min_percent(), kCpuQuotaMinUs, kCpuPeriodUs / 1000));
    if (quota > static_cast<double>(kCpuQuotaMaxUs))
        throw std::invalid_argument(fmt::format("{}% is above the kernel's largest quota, {:.0f}% ({} µs of CPU per {} ms period)",
                                                percent, cpu_quota_max_percent(), kCpuQuotaMaxUs, kCpuPeriodUs / 1000));
    return CpuQuota{static_cast<std::uint64_t>(std::llround(quota)), kCpuPeriodUs};
}

}  // namespace corral
