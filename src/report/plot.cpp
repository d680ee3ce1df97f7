#include "corral/report/plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace corral {

std::vector<PlotPoint> downsample_points(std::vector<PlotPoint> points, std::size_t max_points) {
    max_points = std::max<std::size_t>(max_points, 2);
    std::stable_sort(points.begin(), points.end(), [](const PlotPoint& a, const PlotPoint& b) { return a.t_s < b.t_s; });
    std::vector<PlotPoint> merged;
    merged.reserve(points.size());
    for (auto& p : points) {
        if (!merged.empty() && merged.back().t_s == p.t_s) {
            merged.back().keep = merged.back().keep || p.keep;
            continue;
        }
        merged.push_back(std::move(p));
    }
    if (merged.size() <= max_points) return merged;

    merged.front().keep = merged.back().keep = true;
    std::vector<std::size_t> kept;
    for (std::size_t i = 0; i < merged.size(); ++i)
        if (merged[i].keep) kept.push_back(i);
    if (kept.size() >= max_points) {  // more forced points than room: every k-th of them, the ends kept
        std::vector<std::size_t> thin;
        for (std::size_t k = 0; k < max_points - 1; ++k) thin.push_back(kept[k * (kept.size() - 1) / (max_points - 1)]);
        thin.push_back(kept.back());
        kept = std::move(thin);
    } else {
        const std::size_t buckets = (max_points - kept.size()) / 2;
        const double t0 = merged.front().t_s, span = merged.back().t_s - t0;
        std::vector<std::size_t> lo(buckets, merged.size()), hi(buckets, merged.size());
        for (std::size_t i = 0; i < merged.size(); ++i) {
            if (merged[i].keep || buckets == 0) continue;
            auto b = static_cast<std::size_t>(span > 0 ? (merged[i].t_s - t0) / span * static_cast<double>(buckets) : 0);
            b = std::min(b, buckets - 1);
            if (lo[b] == merged.size() || merged[i].bytes < merged[lo[b]].bytes) lo[b] = i;
            if (hi[b] == merged.size() || merged[i].bytes > merged[hi[b]].bytes) hi[b] = i;
        }
        for (std::size_t b = 0; b < buckets; ++b) {
            if (lo[b] != merged.size()) kept.push_back(lo[b]);
            if (hi[b] != merged.size() && hi[b] != lo[b]) kept.push_back(hi[b]);
        }
        std::sort(kept.begin(), kept.end());
    }
    std::vector<PlotPoint> out;
    out.reserve(kept.size());
    for (std::size_t i : kept) out.push_back(std::move(merged[i]));
    return out;
}

namespace {

// The smallest of 1, 2, 2.5, 5 × 10^k at or above raw.
double nice_step(double raw) {
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw * (1 - 1e-9)) return m * mag;
    return 10 * mag;
}

// Decimals needed to print multiples of step exactly (at most 3).
int decimals_of(double step) {
    for (int d = 0; d < 3; ++d) {
        double scaled = step * std::pow(10.0, d);
        if (std::abs(scaled - std::round(scaled)) < 1e-6) return d;
    }
    return 3;
}

std::vector<AxisTick> ticks_upto(double max, double step, auto&& label) {
    std::vector<AxisTick> out;
    for (int i = 0;; ++i) {
        double v = step * i;
        out.push_back({v, label(v)});
        if (v >= max * (1 - 1e-9)) break;
    }
    return out;
}

}  // namespace

std::vector<AxisTick> byte_ticks(double max_bytes) {
    if (!(max_bytes > 0)) max_bytes = 1024.0 * 1024.0;
    static constexpr std::array<const char*, 4> kUnits = {"B", "KiB", "MiB", "GiB"};
    std::size_t u = 0;
    while (u + 1 < kUnits.size() && max_bytes >= std::pow(1024.0, static_cast<double>(u + 1))) ++u;
    const double unit = std::pow(1024.0, static_cast<double>(u));
    double step = nice_step(max_bytes / unit / 5.0);
    if (u == 0) step = std::max(step, 1.0);
    const int dec = decimals_of(step);
    return ticks_upto(max_bytes, step * unit, [&](double v) {
        if (v == 0) return std::string("0");
        return fmt::format("{:.{}f} {}", v / unit, dec, kUnits[u]);
    });
}

std::vector<AxisTick> time_ticks(double span_s) {
    if (!(span_s > 0)) span_s = 1;
    if (span_s < 120) {
        double step = nice_step(span_s / 5.0);
        const int dec = decimals_of(step);
        return ticks_upto(span_s, step, [&](double v) {
            return v == 0 ? std::string("0") : fmt::format("{:.{}f} s", v, dec);
        });
    }
    static constexpr std::array<double, 13> kMinutes = {1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720, 1440};
    double step = kMinutes.back() * 60;
    for (double m : kMinutes)
        if (span_s / (m * 60) <= 8) {
            step = m * 60;
            break;
        }
    return ticks_upto(span_s, step, [](double v) {
        auto min = static_cast<long long>(std::llround(v / 60));
        if (min == 0) return std::string("0");
        if (min < 60) return fmt::format("{} min", min);
        if (min % 60 == 0) return fmt::format("{} h", min / 60);
        return fmt::format("{} h {} min", min / 60, min % 60);
    });
}

std::string plot_time(double t_s) {
    if (!std::isfinite(t_s)) return "?";
    if (t_s < 0) return "-" + plot_time(-t_s);
    if (t_s < 1) return fmt::format("{} ms", std::llround(t_s * 1000));
    if (t_s < 60) return fmt::format("{:.2f} s", t_s);
    auto s = static_cast<long long>(std::llround(t_s));
    if (s < 3600) return fmt::format("{} min {} s", s / 60, s % 60);
    return fmt::format("{} h {} min", s / 3600, s % 3600 / 60);
}

}  // namespace corral
