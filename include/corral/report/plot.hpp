// The pure parts of the memory plot: which samples are drawn and the axes' ticks and labels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace corral {

// A plot draws at most this many points per suite, whatever the run's length.
inline constexpr std::size_t kMaxPlotPoints = 2000;

struct PlotPoint {
    double t_s = 0;
    std::uint64_t bytes = 0;
    std::string line;  // the line the suite printed by then
    std::string note;  // what the point stands for when it is not one sample ("bucket …")
    bool keep = false; // never dropped by downsampling (the peak, samples around an OOM kill)
};

// The points in time order, at most max_points of them (max_points >= 2): the first, the last and
// every point marked keep, and from the rest, in equal time buckets, each bucket's lowest and
// highest. Points with the same time are merged first (keep if either is).
std::vector<PlotPoint> downsample_points(std::vector<PlotPoint> points, std::size_t max_points = kMaxPlotPoints);

struct AxisTick {
    double value = 0;
    std::string label;
};

// Ticks from 0 up to the first tick at or above max_bytes, 4 to 8 of them, at 1/2/2.5/5 × 10^k of
// B, KiB, MiB or GiB: "0", "16 MiB", "1.5 GiB".
std::vector<AxisTick> byte_ticks(double max_bytes);
// Ticks from 0 up to the first at or above span_s: seconds for spans under 2 minutes ("0.02 s",
// "10 s"), minutes under 2 hours ("5 min"), hours beyond ("1 h", "1 h 30 min").
std::vector<AxisTick> time_ticks(double span_s);

// A moment for people at the precision a plot needs: "85 ms", "1.25 s", "2 min 5 s", "1 h 3 min".
std::string plot_time(double t_s);

}  // namespace corral
