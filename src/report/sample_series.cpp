#include "corral/report/sample_series.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace corral {

namespace {

// Pending window starts PressureWindow holds at most (the recent window's default bound).
constexpr std::size_t kMaxWindowStarts = SeriesBounds{}.max_recent;

SeriesBounds sane(SeriesBounds b) {
    if (!(b.bucket_s > 0)) b.bucket_s = SeriesBounds{}.bucket_s;
    b.max_buckets = std::max<std::size_t>(b.max_buckets, 1);  // coarsen() ends at one bucket
    if (!(b.window_s >= 0)) b.window_s = 0;
    return b;
}

}  // namespace

std::string cut_utf8(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return std::string(s);
    auto continues = [&](std::size_t i) { return (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; };
    // s[cut] is the first byte left out: while it continues a character, leave that character out
    // too (its lead byte is at most 3 bytes back in valid UTF-8; otherwise cut where asked).
    std::size_t cut = max_bytes;
    while (cut > 0 && max_bytes - cut < 3 && continues(cut)) --cut;
    if (continues(cut)) cut = max_bytes;
    return std::string(s.substr(0, cut));
}

// ---- Downsampled -----------------------------------------------------------------------------

template <class Sample, class Bucket>
Downsampled<Sample, Bucket>::Downsampled(SeriesBounds b) : bounds_(sane(b)), width_(bounds_.bucket_s) {}

template <class Sample, class Bucket>
void Downsampled<Sample, Bucket>::push(Sample s) {
    ++count_;
    const double now = s.t_s;
    recent_.push_back(std::move(s));
    while (!recent_.empty() &&
           (recent_.size() > bounds_.max_recent || now - recent_.front().t_s > bounds_.window_s)) {
        age(recent_.front());
        recent_.pop_front();
    }
}

template <class Sample, class Bucket>
void Downsampled<Sample, Bucket>::age(const Sample& s) {
    // Buckets lie on a grid of width_ from t = 0; a sample joins the bucket of its grid cell.
    if (!history_.empty() && std::floor(s.t_s / width_) <= std::floor(history_.back().t_start_s / width_)) {
        history_.back().merge(Bucket::of(s));
        return;
    }
    history_.push_back(Bucket::of(s));
    while (history_.size() > bounds_.max_buckets) coarsen();
}

template <class Sample, class Bucket>
void Downsampled<Sample, Bucket>::coarsen() {
    // Doubling the width puts every two neighbouring cells into one: merge their buckets.
    width_ *= 2;
    std::size_t out = 0;
    for (std::size_t i = 1; i < history_.size(); ++i) {
        if (std::floor(history_[i].t_start_s / width_) == std::floor(history_[out].t_start_s / width_))
            history_[out].merge(history_[i]);
        else
            history_[++out] = history_[i];
    }
    history_.resize(out + 1);
}

template class Downsampled<MemorySample, MemoryBucket>;
template class Downsampled<PressureSample, PressureBucket>;

// ---- memory ----------------------------------------------------------------------------------

MemoryBucket MemoryBucket::of(const MemorySample& s) { return {s.t_s, s.t_s, s.bytes, s.bytes, s.bytes}; }

void MemoryBucket::merge(const MemoryBucket& later) {
    t_end_s = later.t_end_s;
    min_bytes = std::min(min_bytes, later.min_bytes);
    max_bytes = std::max(max_bytes, later.max_bytes);
    last_bytes = later.last_bytes;
}

bool MemorySeries::append(double t_s, std::uint64_t bytes, std::string_view last_line) {
    MemorySample s{t_s, bytes, cut_utf8(last_line, kSampleLineMaxBytes)};
    const bool new_peak = !peak_ || bytes > peak_->bytes;
    if (new_peak) peak_ = s;
    if (oom_keep_next_ > 0) {
        --oom_keep_next_;
        keep(series_.count(), s);  // the index the sample gets
    }
    series_.push(std::move(s));
    return new_peak;
}

void MemorySeries::mark_oom(double t_s) {
    ++oom_marks_;
    const auto& recent = series_.recent();
    const std::uint64_t first_seq = series_.count() - recent.size();
    std::size_t after = recent.size();  // the first sample after t_s (usually none yet)
    while (after > 0 && recent[after - 1].t_s > t_s) --after;
    for (std::size_t i = after >= 2 ? after - 2 : 0; i < after; ++i) keep(first_seq + i, recent[i]);
    if (after < recent.size())
        keep(first_seq + after, recent[after]);
    else
        oom_keep_next_ = 1;
}

void MemorySeries::keep(std::uint64_t seq, const MemorySample& s) {
    const Kept* last = !oom_last_.empty()    ? &oom_last_.back()
                       : !oom_first_.empty() ? &oom_first_.back()
                                             : nullptr;
    if (last && seq <= last->seq) return;  // kept already (or older than the last kept: a late mark)
    if (oom_first_.size() < kOomSamplesKept) return oom_first_.push_back({seq, s});
    oom_last_.push_back({seq, s});
    if (oom_last_.size() > kOomSamplesKept) oom_last_.pop_front();
}

std::optional<std::uint64_t> MemorySeries::max_bytes() const {
    if (!peak_) return std::nullopt;
    return peak_->bytes;
}

std::vector<MemorySample> MemorySeries::oom_samples() const {
    std::vector<MemorySample> out;
    out.reserve(oom_first_.size() + oom_last_.size());
    for (const auto& k : oom_first_) out.push_back(k.sample);
    for (const auto& k : oom_last_) out.push_back(k.sample);
    return out;
}

// ---- pressure --------------------------------------------------------------------------------

namespace {

// The share of wall time between a and b in "full" stall, in percent.
double full_share(const PressureSample& a, const PressureSample& b) {
    double dt = b.t_s - a.t_s;
    if (dt <= 0 || b.full_total_us < a.full_total_us) return 0.0;
    return std::min(100.0, 100.0 * static_cast<double>(b.full_total_us - a.full_total_us) / 1e6 / dt);
}

}  // namespace

void PressureWindow::add(const PressureSample& p) {
    if (!first_) first_ = p;
    last_ = p;
    starts_.push_back(p);
    // Every start whose window this sample closes: p is the first sample kThrashingWindowS after it.
    while (!starts_.empty() && p.t_s - starts_.front().t_s >= kThrashingWindowS) {
        const PressureSample& a = starts_.front();
        double pct = full_share(a, p);
        if (pct > worst_percent_ || worst_window_s_ == 0) {
            worst_percent_ = pct;
            worst_start_s_ = a.t_s;
            worst_window_s_ = p.t_s - a.t_s;
        }
        starts_.pop_front();
    }
    if (starts_.size() > kMaxWindowStarts) starts_.pop_front();
}

PressureSummary PressureWindow::summary() const {
    PressureSummary out;
    if (!first_) return out;
    out.available = true;
    // Totals are cumulative since the cgroup was made; the box is new, so the first sample is ~0.
    out.some_total_s = static_cast<double>(last_->some_total_us) / 1e6;
    out.full_total_s = static_cast<double>(last_->full_total_us) / 1e6;
    if (last_->t_s - first_->t_s < kThrashingWindowS) {
        out.worst_full_percent = full_share(*first_, *last_);
        out.worst_start_s = first_->t_s;
        out.worst_window_s = last_->t_s - first_->t_s;
        return out;
    }
    out.worst_full_percent = worst_percent_;
    out.worst_start_s = worst_start_s_;
    out.worst_window_s = worst_window_s_;
    out.thrashing = out.worst_full_percent >= kThrashingFullPercent;
    return out;
}

PressureSummary summarize_pressure(const std::vector<PressureSample>& samples) {
    PressureWindow w;
    for (const auto& p : samples) w.add(p);
    return w.summary();
}

PressureBucket PressureBucket::of(const PressureSample& s) {
    return {s.t_s, s.t_s, s.some_avg10, s.full_avg10, s.some_total_us, s.full_total_us};
}

void PressureBucket::merge(const PressureBucket& later) {
    t_end_s = later.t_end_s;
    max_some_avg10 = std::max(max_some_avg10, later.max_some_avg10);
    max_full_avg10 = std::max(max_full_avg10, later.max_full_avg10);
    some_total_us = later.some_total_us;
    full_total_us = later.full_total_us;
}

void PressureSeries::append(const PressureSample& p) {
    window_.add(p);
    series_.push(p);
}

}  // namespace corral
