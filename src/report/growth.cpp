#include "corral/report/growth.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <utility>

#include "corral/profile/quantities.hpp"
#include "corral/report/sample_series.hpp"

namespace corral {

namespace {

// A level's bin for the time spent at it: exact below 256 bytes, then 256 bins per power of two
// (each 1/256 ≈ 0.4 % wide). A run visits a few hundred bins; there are at most about 14,600.
std::uint32_t level_bin(std::uint64_t v) {
    if (v < 256) return static_cast<std::uint32_t>(v);
    const int e = std::bit_width(v) - 1;  // 8 and more
    const auto m = static_cast<std::uint32_t>((v >> (e - 8)) & 0xFF);
    return static_cast<std::uint32_t>(e - 7) * 256 + m;
}

// The lowest level above the bin (a double: the last bin ends at 2^64).
double level_bin_end(std::uint32_t b) {
    if (b < 256) return b + 1.0;
    const int e = static_cast<int>(b / 256) + 7;
    return std::ldexp(257.0 + (b % 256), e - 8);
}

// What a marker is called in a sentence.
struct Noun {
    const char* one;
    const char* many;
};

Noun noun(std::optional<MarkerKind> k) {
    if (!k || *k == MarkerKind::Regex) return {"marker", "markers"};
    if (*k == MarkerKind::Counter) return {"step", "steps"};
    return {"test", "tests"};
}

std::string count(std::uint64_t n, Noun w) { return fmt::format("{} {}", n, n == 1 ? w.one : w.many); }

std::string percent(double share) { return fmt::format("{:.0f} %", share * 100); }

std::uint64_t bytes_of(double v) { return v > 0 ? static_cast<std::uint64_t>(std::llround(v)) : 0; }

}  // namespace

// ---- Fit -------------------------------------------------------------------------------------

void GrowthTracker::Fit::add(double x, double y) {
    if (n == 0) x_first = x;
    x_last = x;
    ++n;
    const double nn = static_cast<double>(n);
    const double dx = x - mx;
    const double dy = y - my;
    mx += dx / nn;
    my += dy / nn;
    sxx += dx * (x - mx);
    sxy += dx * (y - my);
    syy += dy * (y - my);
}

void GrowthTracker::Fit::merge(const Fit& later) {
    if (later.n == 0) return;
    if (n == 0) {
        *this = later;
        return;
    }
    const double na = static_cast<double>(n), nb = static_cast<double>(later.n), nt = na + nb;
    const double dx = later.mx - mx, dy = later.my - my;
    sxx += later.sxx + dx * dx * na * nb / nt;
    sxy += later.sxy + dx * dy * na * nb / nt;
    syy += later.syy + dy * dy * na * nb / nt;
    mx += dx * nb / nt;
    my += dy * nb / nt;
    n += later.n;
    x_last = later.x_last;
}

std::optional<double> GrowthTracker::Fit::slope() const {
    if (n < 2 || !(sxx > 0)) return std::nullopt;
    const double b = sxy / sxx;
    return std::isfinite(b) ? std::optional<double>(b) : std::nullopt;
}

std::optional<double> GrowthTracker::Fit::r2() const {
    // Two points always lie on a line; a level that never changes has no R².
    if (n < 3 || !(sxx > 0) || !(syy > 0)) return std::nullopt;
    const double r = sxy / sxx * sxy / syy;
    if (!std::isfinite(r)) return std::nullopt;
    return std::clamp(r, 0.0, 1.0);
}

// ---- the tracker -----------------------------------------------------------------------------

void GrowthTracker::sample(double t_s, std::uint64_t bytes) {
    if (!std::isfinite(t_s)) return;
    if (samples_ == 0) {
        t_first_s_ = t_s;
        segment_s_ = kGrowthSegmentS;
    } else {
        t_s = std::max(t_s, t_last_s_);
        // The time since the previous sample was spent at its level…
        if (t_s > t_last_s_) level_s_[level_bin(last_bytes_)] += t_s - t_last_s_;
        // …and the change since then goes to the marker running in between: the latest started of
        // those open, else the interval since the last boundary (an End-only runner's next marker).
        if (bytes > last_bytes_) (open_.empty() ? pending_ : open_.back()).grew_bytes += bytes - last_bytes_;
    }
    ++samples_;
    t_last_s_ = t_s;
    last_bytes_ = bytes;
    peak_bytes_ = std::max(peak_bytes_, bytes);
    for (auto& iv : open_) iv.peak_bytes = std::max(iv.peak_bytes, bytes);
    pending_.peak_bytes = std::max(pending_.peak_bytes, bytes);
    if (boundary_seen_) {
        since_boundary_.add(t_s, static_cast<double>(bytes));
        if (!baseline_bytes_) baseline_bytes_ = bytes;  // a marker came before the first sample
    }

    const auto cell = static_cast<std::uint64_t>(std::max(0.0, t_s) / segment_s_);
    if (segments_.empty() || segments_.back().cell != cell) {
        segments_.push_back(Segment{cell, t_s, bytes, {}});
        while (segments_.size() > kGrowthSegments) {
            segment_s_ *= 2;
            std::vector<Segment> merged;
            merged.reserve(segments_.size() / 2 + 1);
            for (auto& s : segments_) {
                s.cell /= 2;
                if (!merged.empty() && merged.back().cell == s.cell)
                    merged.back().fit.merge(s.fit);
                else
                    merged.push_back(std::move(s));
            }
            segments_ = std::move(merged);
        }
    }
    segments_.back().fit.add(t_s, static_cast<double>(bytes));
}

void GrowthTracker::boundary(double t_s) {
    if (!boundary_seen_) {
        boundary_seen_ = true;
        if (samples_ > 0) {
            baseline_bytes_ = last_bytes_;
            since_boundary_.add(t_s, static_cast<double>(last_bytes_));
        }
    }
    pending_ = Interval{"", t_s, last_bytes_, 0, last_bytes_};
}

GrowthMarker GrowthTracker::closed(const Interval& iv, double t_end_s) const {
    GrowthMarker m;
    m.marker = iv.marker;
    m.grew_bytes = iv.grew_bytes;
    m.net_bytes = static_cast<std::int64_t>(last_bytes_) - static_cast<std::int64_t>(iv.start_bytes);
    m.peak_bytes = std::max(iv.peak_bytes, last_bytes_);
    m.t_start_s = iv.t_start_s;
    m.t_end_s = t_end_s;
    return m;
}

void GrowthTracker::rank(std::vector<GrowthMarker>& top, GrowthMarker m) {
    // Largest rise first; of equal rises the one that started earlier.
    if (top.size() >= kGrowthTop && m.grew_bytes <= top.back().grew_bytes) return;
    auto at = std::find_if(top.begin(), top.end(), [&](const GrowthMarker& o) {
        return o.grew_bytes < m.grew_bytes || (o.grew_bytes == m.grew_bytes && o.t_start_s > m.t_start_s);
    });
    top.insert(at, std::move(m));
    if (top.size() > kGrowthTop) top.pop_back();
}

void GrowthTracker::close(const Interval& iv, double t_end_s, bool ended) {
    ++markers_;
    if (ended) levels_.add(static_cast<double>(markers_), static_cast<double>(last_bytes_));
    rank(top_, closed(iv, t_end_s));
}

void GrowthTracker::marker(double t_s, const MarkerEvent& ev) {
    if (!std::isfinite(t_s)) return;
    if (samples_ > 0) t_s = std::max(t_s, t_last_s_);
    kind_ = ev.kind;
    std::string name = cut_utf8(ev.name, kSampleLineMaxBytes);
    auto open =
        std::find_if(open_.rbegin(), open_.rend(), [&](const Interval& iv) { return iv.marker == name; });
    if (ev.type == MarkerEvent::Type::Start) {
        // The same marker started again: its earlier run is over (it said no End).
        if (open != open_.rend()) {
            close(*open, t_s, false);
            open_.erase(std::next(open).base());
        }
        if (open_.size() >= kGrowthMaxOpen) {
            close(open_.front(), t_s, false);
            open_.erase(open_.begin());
        }
        boundary(t_s);
        open_.push_back(Interval{std::move(name), t_s, last_bytes_, 0, last_bytes_});
        return;
    }
    if (open != open_.rend()) {
        close(*open, t_s, true);
        open_.erase(std::next(open).base());
    } else if (boundary_seen_) {
        // End only: the interval since the previous boundary was this marker's.
        Interval iv = pending_;
        iv.marker = std::move(name);
        close(iv, t_s, true);
    } else {
        // The first End-only marker: its own part cannot be told from the start-up before it.
        close(Interval{std::move(name), t_s, last_bytes_, 0, last_bytes_}, t_s, true);
    }
    boundary(t_s);
}

Growth GrowthTracker::finish(const GrowthContext& ctx) const {
    Growth g;
    g.marker_kind = kind_;
    g.top = top_;
    g.markers = markers_;
    // Markers still running at the end ran until the last sample.
    for (const auto& iv : open_) {
        rank(g.top, closed(iv, t_last_s_));
        ++g.markers;
    }
    const Noun unit = noun(kind_);
    const double run_s = ctx.duration_s > 0 ? ctx.duration_s : t_last_s_;

    // The fit over time, after start-up: from the first marker boundary, or without markers from
    // the first cell of the time grid that begins after the start-up share of the run.
    Fit time_fit;
    std::optional<std::uint64_t> baseline;
    double startup_s = 0;
    if (boundary_seen_) {
        time_fit = since_boundary_;
        baseline = baseline_bytes_;
    } else {
        startup_s = std::max(kGrowthStartupMinS, kGrowthStartupShare * run_s);
        for (const auto& s : segments_) {
            if (s.t_first_s < startup_s) continue;
            if (!baseline) baseline = s.first_bytes;
            time_fit.merge(s.fit);
        }
    }
    g.slope_bytes_per_s = time_fit.slope().value_or(0);
    const bool per_marker = levels_.n >= kGrowthMinMarkers;
    const Fit& fit = per_marker ? levels_ : time_fit;
    if (per_marker)
        g.per_marker_bytes = levels_.slope() ? std::optional(std::llround(*levels_.slope())) : std::nullopt;
    g.r2 = fit.r2();

    const std::uint64_t peak = peak_bytes_;
    const std::uint64_t base = baseline.value_or(0);
    const std::string largest =
        g.top.empty() || g.top.front().grew_bytes == 0
            ? ""
            : fmt::format("; largest step {} in {}", format_bytes(g.top.front().grew_bytes),
                          g.top.front().marker);
    auto unknown = [&](std::string why) {
        g.pattern = "unknown";
        g.summary = std::move(why);
        return g;
    };
    if (samples_ < kGrowthMinSamples)
        return unknown(fmt::format("Too few samples ({}) to tell a pattern (at least {} are needed).",
                                   samples_, kGrowthMinSamples));

    // spike: one marker rose by most of the peak above the start-up baseline
    if (g.markers >= kGrowthSpikeMinMarkers && baseline && !g.top.empty() && peak > base) {
        const double rise = static_cast<double>(peak - base);
        const GrowthMarker& m = g.top.front();
        const double share = static_cast<double>(m.grew_bytes) / rise;
        if (rise >= kGrowthSpikeMinRise * static_cast<double>(peak) && share >= kGrowthSpikeShare) {
            g.pattern = "spike";
            const std::string kept = m.net_bytes * 10 <= static_cast<std::int64_t>(m.grew_bytes)
                                         ? "freeing it again by its end"
                                         : fmt::format("{} of it still held at its end",
                                                       format_bytes(static_cast<std::uint64_t>(m.net_bytes)));
            g.summary = fmt::format(
                "One {} used most of the memory: {} rose by {} ({} of the peak above start-up, {} to {}), "
                "{}.",
                unit.one, m.marker, format_bytes(m.grew_bytes), percent(share), format_bytes(base),
                format_bytes(peak), kept);
            return g;
        }
    }

    // steady: the level rises with the markers (or with time), along a line
    const bool can_fit = g.markers > 0 ? per_marker : time_fit.n >= kGrowthMinSamples;
    if (can_fit) {
        const double slope = fit.slope().value_or(0);
        const double rise = slope * (fit.x_last - fit.x_first);
        if (slope > 0 && g.r2 && *g.r2 >= kGrowthSteadyR2 &&
            rise >= kGrowthSteadyRise * static_cast<double>(peak)) {
            g.pattern = "steady";
            if (per_marker)
                g.summary = fmt::format(
                    "Memory grew steadily, {} per {} over {} (a leak: each {}'s objects stay alive), from {} "
                    "to "
                    "{}{}.",
                    format_bytes(bytes_of(slope)), unit.one, count(g.markers, unit), unit.one,
                    format_bytes(base), format_bytes(peak), largest);
            else
                g.summary = fmt::format(
                    "Memory grew steadily, {} per second over {} after start-up (a leak; no test markers in "
                    "the "
                    "output to attribute it to), from {} to {}.",
                    format_bytes(bytes_of(slope)), format_seconds(fit.x_last - fit.x_first),
                    format_bytes(base), format_bytes(peak));
            return g;
        }
    }

    // plateau: at the limit for a good part of the run, or thrashing
    double at_limit_s = 0;
    const bool limited = ctx.memory_max && *ctx.memory_max > 0 && *ctx.memory_max != kInfinity;
    if (limited) {
        const double threshold = kGrowthPlateauLevel * static_cast<double>(*ctx.memory_max);
        for (const auto& [bin, s] : level_s_)
            if (level_bin_end(bin) > threshold) at_limit_s += s;
    }
    const bool at_limit = limited && run_s > 0 && at_limit_s >= kGrowthPlateauShare * run_s;
    if (at_limit || ctx.thrashing) {
        g.pattern = "plateau";
        if (at_limit)
            g.summary = fmt::format(
                "Memory stayed at its limit: at {} or more of memory.max ({}) for {} of the run ({} of "
                "{}){}.",
                percent(kGrowthPlateauLevel), format_bytes(*ctx.memory_max), percent(at_limit_s / run_s),
                format_seconds(at_limit_s), format_seconds(run_s),
                ctx.thrashing ? ", and PSI says the suite was thrashing" : "");
        else
            g.summary = fmt::format(
                "Memory pressure without a leak or a spike: PSI says the suite was thrashing (stalled on "
                "memory "
                "reclaim) at a peak of {}.",
                format_bytes(peak));
        return g;
    }

    if (g.markers > 0 && !per_marker)
        return unknown(
            fmt::format("Too few {} ({}) to tell a pattern (at least {} are needed).",
                        g.markers >= kGrowthMinMarkers ? fmt::format("{} ended", unit.many) : unit.many,
                        g.markers >= kGrowthMinMarkers ? levels_.n : g.markers, kGrowthMinMarkers));
    if (g.markers == 0 && time_fit.n < kGrowthMinSamples)
        return unknown(
            fmt::format("Too few samples after start-up ({} after the first {}) to tell a pattern (at least "
                        "{} are needed).",
                        time_fit.n, format_seconds(startup_s), kGrowthMinSamples));

    g.pattern = "flat";
    if (g.markers > 0)
        g.summary = fmt::format(
            "No leak, spike or plateau: memory went from {} after start-up to a peak of {} over {}{}.",
            format_bytes(base), format_bytes(peak), count(g.markers, unit), largest);
    else
        g.summary = fmt::format(
            "No leak or plateau: memory went from {} after start-up to a peak of {} over {} (no test markers "
            "in the "
            "output).",
            format_bytes(base), format_bytes(peak), format_seconds(run_s));
    return g;
}

nlohmann::json growth_to_json(const Growth& g) {
    auto top = nlohmann::json::array();
    for (const auto& m : g.top)
        top.push_back({{"marker", m.marker},
                       {"grew_bytes", m.grew_bytes},
                       {"net_bytes", m.net_bytes},
                       {"peak_bytes", m.peak_bytes},
                       {"t_start_s", m.t_start_s},
                       {"t_end_s", m.t_end_s}});
    const auto or_null = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return {{"markers", g.markers},
            {"marker_kind",
             g.marker_kind ? nlohmann::json(marker_kind_name(*g.marker_kind)) : nlohmann::json(nullptr)},
            {"pattern", g.pattern},
            {"per_marker_bytes", or_null(g.per_marker_bytes)},
            {"slope_bytes_per_s", std::isfinite(g.slope_bytes_per_s) ? g.slope_bytes_per_s : 0.0},
            {"r2", or_null(g.r2)},
            {"top", std::move(top)},
            {"summary", g.summary}};
}

}  // namespace corral
