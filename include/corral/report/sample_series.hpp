// A suite's memory and pressure samples, bounded whatever the suite's length: full resolution for
// a recent window, buckets on a coarsening grid before it, the peak and the samples around OOM kills
// kept apart. Pure: the caller passes the time of each sample. Documented in docs/report-schema.md.
//
// Bounds, by construction:
//   recent   the samples of the last `window_s` (600 s), at most `max_recent` (12,000: 10 min at
//            50 ms, 2 min at corral's smallest sample_interval of 10 ms);
//   history  a sample that leaves the window is merged into the bucket of its time on a grid of
//            `bucket_s` (first 1 s); when there would be more than `max_buckets` (4,096) buckets,
//            neighbours merge and the width doubles (any length: at most 4,096 buckets; 24 h: about
//            2,700 buckets of 32 s);
//   lines    each sample's line is cut to kSampleLineMaxBytes (256) on a UTF-8 boundary;
//   kept     the peak sample, and at most 2 × kOomSamplesKept samples around OOM kills (the first
//            and the latest).
// Worst case: about 12,000 × 300 bytes for the recent window, some hundred KiB for the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corral/box/measure.hpp"

namespace corral {

struct SeriesBounds {
    double window_s = 600;           // full resolution for this long…
    std::size_t max_recent = 12000;  // …but never for more samples than this
    double bucket_s = 1;             // the first width of a history bucket
    std::size_t max_buckets = 4096;  // more: neighbours merge and the width doubles
};

// The longest line kept with a sample; the whole output is in the suite's output files.
inline constexpr std::size_t kSampleLineMaxBytes = 256;
// The first and the latest samples kept around OOM kills (each kill keeps up to 3 samples).
inline constexpr std::size_t kOomSamplesKept = 48;

// The first max_bytes bytes of s, shortened so that a multi-byte UTF-8 character is never split.
std::string cut_utf8(std::string_view s, std::size_t max_bytes);

// Samples of type Sample (with a t_s) at full resolution for a recent window; older ones merged into
// buckets of type Bucket (of(sample), merge(later bucket), t_start_s).
template <class Sample, class Bucket>
class Downsampled {
public:
    explicit Downsampled(SeriesBounds b = {});

    // t_s never before the previous sample's.
    void push(Sample s);
    const std::deque<Sample>& recent() const noexcept { return recent_; }
    const std::vector<Bucket>& history() const noexcept { return history_; }
    double bucket_s() const noexcept { return width_; }
    std::uint64_t count() const noexcept { return count_; }  // every sample pushed
    const SeriesBounds& bounds() const noexcept { return bounds_; }

private:
    void age(const Sample& s);
    void coarsen();

    SeriesBounds bounds_;
    double width_;
    std::deque<Sample> recent_;
    std::vector<Bucket> history_;
    std::uint64_t count_ = 0;
};

// ---- memory ----------------------------------------------------------------------------------

struct MemorySample {
    double t_s = 0;
    std::uint64_t bytes = 0;
    std::string last_line;  // last complete output line printed by then, cut to kSampleLineMaxBytes
};

struct MemoryBucket {
    double t_start_s = 0, t_end_s = 0;  // the first and the last sample merged into it
    std::uint64_t min_bytes = 0, max_bytes = 0, last_bytes = 0;

    static MemoryBucket of(const MemorySample& s);
    void merge(const MemoryBucket& later);
};

class MemorySeries {
public:
    explicit MemorySeries(SeriesBounds b = {}) : series_(b) {}

    // Appends a sample; t_s never before the previous one's. Returns true when it is a new peak
    // (higher than every sample before it).
    bool append(double t_s, std::uint64_t bytes, std::string_view last_line);
    // An OOM kill happened at or shortly before t_s (times in non-decreasing order): keeps the last
    // two samples at or before t_s and the first one after it, while kOomSamplesKept allows.
    void mark_oom(double t_s);

    bool empty() const noexcept { return series_.count() == 0; }
    std::uint64_t count() const noexcept { return series_.count(); }
    const std::deque<MemorySample>& recent() const noexcept { return series_.recent(); }
    const std::vector<MemoryBucket>& history() const noexcept { return series_.history(); }
    double bucket_s() const noexcept { return series_.bucket_s(); }
    // The highest sample (the first to reach it), kept whenever it was taken.
    const std::optional<MemorySample>& peak() const noexcept { return peak_; }
    std::optional<std::uint64_t> max_bytes() const;
    // The samples kept around OOM kills, in time order.
    std::vector<MemorySample> oom_samples() const;
    std::uint64_t oom_marks() const noexcept { return oom_marks_; }

private:
    struct Kept {
        std::uint64_t seq;  // the sample's index in the series
        MemorySample sample;
    };
    void keep(std::uint64_t seq, const MemorySample& s);

    Downsampled<MemorySample, MemoryBucket> series_;
    std::optional<MemorySample> peak_;
    std::vector<Kept> oom_first_;  // the first kOomSamplesKept…
    std::deque<Kept> oom_last_;    // …and the latest kOomSamplesKept after them
    std::uint64_t oom_marks_ = 0;
    int oom_keep_next_ = 0;  // samples still to keep after the last mark
};

// ---- pressure (PSI) --------------------------------------------------------------------------

// Memory thrashing, judged from PSI "full" stall time (every runnable task of the suite stalled on
// memory: reclaim, refaults, memory.high throttling).
inline constexpr double kThrashingFullPercent = 20.0;  // at least this share of wall time stalled…
inline constexpr double kThrashingWindowS = 5.0;       // …over a window at least this long

struct PressureSummary {
    bool available = false;  // PSI samples were read
    double some_total_s = 0, full_total_s = 0;
    // The worst window of at least kThrashingWindowS (or the whole run when it was shorter).
    double worst_full_percent = 0;
    double worst_start_s = 0, worst_window_s = 0;
    bool thrashing = false;  // worst_full_percent >= threshold over a window >= kThrashingWindowS
};

// The thrashing summary computed as samples arrive, so that it sees every sample at full resolution
// whatever the series keeps. For every sample, the shortest window of at least kThrashingWindowS
// that starts there; it holds the starts of the last kThrashingWindowS (exact while that is at most
// SeriesBounds::max_recent samples, i.e. samples at least 0.42 ms apart; beyond, the oldest starts
// are dropped).
class PressureWindow {
public:
    void add(const PressureSample& p);
    PressureSummary summary() const;

private:
    std::optional<PressureSample> first_, last_;
    std::deque<PressureSample> starts_;  // samples whose window has not closed yet
    double worst_percent_ = 0, worst_start_s_ = 0, worst_window_s_ = 0;
};

PressureSummary summarize_pressure(const std::vector<PressureSample>& samples);

// Totals are cumulative: a bucket keeps the last totals and the highest avg10 values.
struct PressureBucket {
    double t_start_s = 0, t_end_s = 0;
    double max_some_avg10 = 0, max_full_avg10 = 0;
    std::uint64_t some_total_us = 0, full_total_us = 0;  // at t_end_s

    static PressureBucket of(const PressureSample& s);
    void merge(const PressureBucket& later);
};

class PressureSeries {
public:
    explicit PressureSeries(SeriesBounds b = {}) : series_(b) {}

    void append(const PressureSample& p);  // p.t_s never before the previous one's
    bool empty() const noexcept { return series_.count() == 0; }
    std::uint64_t count() const noexcept { return series_.count(); }
    const std::deque<PressureSample>& recent() const noexcept { return series_.recent(); }
    const std::vector<PressureBucket>& history() const noexcept { return series_.history(); }
    double bucket_s() const noexcept { return series_.bucket_s(); }
    PressureSummary summary() const { return window_.summary(); }

private:
    Downsampled<PressureSample, PressureBucket> series_;
    PressureWindow window_;
};

extern template class Downsampled<MemorySample, MemoryBucket>;
extern template class Downsampled<PressureSample, PressureBucket>;

}  // namespace corral
