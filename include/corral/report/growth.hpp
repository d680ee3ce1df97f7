// What in the suite used the memory: the change between consecutive samples goes to the marker (test)
// running then; the curve is classified as steady (a leak), spike, plateau or flat. Online and bounded:
// the tracker keeps the top markers and running sums, never every sample. Pure.
// Thresholds documented in docs/report-schema.md (memory.growth).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corral/report/markers.hpp"

namespace corral {

// The classification's thresholds (docs/report-schema.md, memory.growth), checked in this order:
//   spike    one marker's grew_bytes >= kGrowthSpikeShare of (peak - baseline), where the peak is at
//            least kGrowthSpikeMinRise of itself above the baseline (a rise that is noise is no spike);
//   steady   the fit's R² >= kGrowthSteadyR2 and its rise (slope × span) >= kGrowthSteadyRise of the
//            peak, the slope positive;
//   plateau  usage >= kGrowthPlateauLevel of memory.max for >= kGrowthPlateauShare of the run, or
//            thrashing by PSI;
//   flat     none of these.
inline constexpr double kGrowthSpikeShare = 0.40;
inline constexpr double kGrowthSpikeMinRise = 0.10;
inline constexpr double kGrowthSteadyR2 = 0.8;
inline constexpr double kGrowthSteadyRise = 0.25;
inline constexpr double kGrowthPlateauLevel = 0.95;
inline constexpr double kGrowthPlateauShare = 0.20;
// Fewer than these: "unknown" (the summary says which).
inline constexpr std::uint64_t kGrowthMinSamples = 10;      // samples (after start-up without markers)
inline constexpr std::uint64_t kGrowthMinMarkers = 5;       // markers for a per-marker fit (steady)
inline constexpr std::uint64_t kGrowthSpikeMinMarkers = 3;  // markers for a spike
// Start-up without markers: the first kGrowthStartupShare of the run, at least kGrowthStartupMinS
// (rounded up to a cell of the tracker's time grid: at most 1/32 of the run more).
inline constexpr double kGrowthStartupShare = 0.10;
inline constexpr double kGrowthStartupMinS = 1.0;
// Bounds: the markers kept, the cells of the time grid (first kGrowthSegmentS wide, doubled as
// needed), the markers open at once (more: the earliest started is closed).
inline constexpr std::size_t kGrowthTop = 10;
inline constexpr std::size_t kGrowthSegments = 64;
inline constexpr double kGrowthSegmentS = 0.25;
inline constexpr std::size_t kGrowthMaxOpen = 64;

struct GrowthMarker {
    std::string marker;
    std::uint64_t grew_bytes = 0;  // the sum of the positive changes while it ran
    std::int64_t net_bytes = 0;    // usage at its end minus usage at its start
    std::uint64_t peak_bytes = 0;  // the highest usage while it ran
    double t_start_s = 0, t_end_s = 0;
};

struct Growth {
    std::uint64_t markers = 0;
    std::optional<MarkerKind> marker_kind;
    std::string pattern = "unknown";  // "steady" | "spike" | "plateau" | "flat" | "unknown"
    std::optional<std::int64_t> per_marker_bytes;
    double slope_bytes_per_s = 0;
    std::optional<double> r2;
    std::vector<GrowthMarker> top;  // at most 10, largest rise first
    std::string summary;            // one sentence
};

// What the classification needs besides the samples.
struct GrowthContext {
    std::optional<std::uint64_t> memory_max;  // the suite's memory.max (none: no plateau by limit)
    bool thrashing = false;                   // PSI said thrashing
    double duration_s = 0;
};

class GrowthTracker {
public:
    // A memory sample (t_s since the suite's start, rising).
    void sample(double t_s, std::uint64_t bytes);
    // A marker seen at t_s; the caller takes a sample just before (at most one per millisecond).
    void marker(double t_s, const MarkerEvent& ev);
    Growth finish(const GrowthContext& ctx) const;

private:
    // Least squares y = a + b·x over points added in rising x, online: Welford's updates (and Chan's
    // to merge two), so that bytes near 1e9 over millions of points lose no precision to cancellation.
    struct Fit {
        std::uint64_t n = 0;
        double x_first = 0, x_last = 0;
        double mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0;  // means and co-moments
        void add(double x, double y);
        void merge(const Fit& later);
        std::optional<double> slope() const;
        std::optional<double> r2() const;
    };
    // The samples' fit over time, in cells of a grid that doubles (as the sample series' history) so
    // that the start-up, known only at the end (a share of the run), can be left out at the end.
    struct Segment {
        std::uint64_t cell = 0;  // t_s / segment_s_, floored
        double t_first_s = 0;
        std::uint64_t first_bytes = 0;
        Fit fit;
    };
    // A marker's interval so far.
    struct Interval {
        std::string marker;
        double t_start_s = 0;
        std::uint64_t start_bytes = 0, grew_bytes = 0, peak_bytes = 0;
    };

    void close(const Interval& iv, double t_end_s, bool ended);
    static void rank(std::vector<GrowthMarker>& top, GrowthMarker m);
    GrowthMarker closed(const Interval& iv, double t_end_s) const;
    void boundary(double t_s);

    // samples
    std::uint64_t samples_ = 0;
    double t_first_s_ = 0, t_last_s_ = 0;
    std::uint64_t last_bytes_ = 0, peak_bytes_ = 0;
    std::vector<Segment> segments_;  // at most kGrowthSegments
    double segment_s_ = 0;
    // time spent at each level (sample bytes in bins 1/256 wide, see level_bin): memory.max is known
    // only at the end
    std::map<std::uint32_t, double> level_s_;
    // markers
    std::optional<MarkerKind> kind_;
    bool boundary_seen_ = false;
    std::optional<std::uint64_t> baseline_bytes_;  // usage at the first marker boundary
    Fit since_boundary_;                           // the samples' fit over time from the first boundary
    Fit levels_;                                   // level after each ended marker vs its index
    std::uint64_t markers_ = 0;                    // markers closed
    std::vector<Interval> open_;                   // started, not ended (at most kGrowthMaxOpen)
    Interval pending_;                             // since the last boundary, while none is open
    std::vector<GrowthMarker> top_;                // at most kGrowthTop, largest rise first
};

// The report's memory.growth object.
nlohmann::json growth_to_json(const Growth& g);

}  // namespace corral
