// What in the suite used the memory: the change between consecutive samples goes to the marker (test)
// running then; the curve is classified as steady (a leak), spike, plateau or flat. Online and bounded:
// the tracker keeps the top markers and running sums, never every sample. Pure.
// Thresholds documented in docs/report-schema.md (memory.growth).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corral/report/markers.hpp"

namespace corral {

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
};

// The report's memory.growth object.
nlohmann::json growth_to_json(const Growth& g);

}  // namespace corral
