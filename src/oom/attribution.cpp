#include "corral/oom/attribution.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "corral/profile/quantities.hpp"

namespace corral {

std::size_t OomAttribution::add_suite(std::string box_name, double start_s, double interval_s) {
    suites_.push_back(Suite{std::move(box_name), start_s, interval_s, std::nullopt});
    return suites_.size() - 1;
}

void OomAttribution::suite_ended(std::size_t suite, double end_s) { suites_.at(suite).end_s = end_s; }

void OomAttribution::seen(std::size_t suite, pid_t pid, std::uint64_t start_ticks, double t_s) {
    auto [first, last] = sightings_.equal_range(pid);
    for (auto it = first; it != last; ++it) {
        Sighting& s = it->second;
        if (s.suite == suite && s.start_ticks == start_ticks) {
            s.last_s = std::max(s.last_s, t_s);
            return;
        }
    }
    sightings_.emplace(pid, Sighting{suite, start_ticks, t_s, t_s});
}

std::optional<std::size_t> OomAttribution::owner(const OomRecord& r) const {
    const double t = static_cast<double>(r.mono_us) / 1e6;
    const bool has_paths = !r.task_memcg.empty() || !r.oom_memcg.empty();
    if (has_paths) {
        for (std::size_t i = 0; i < suites_.size(); ++i) {
            const Suite& s = suites_[i];
            if (s.box_name.empty()) continue;
            if (cgroup_path_matches(r.task_memcg, s.box_name) || cgroup_path_matches(r.oom_memcg, s.box_name))
                return named_in_time(s, t) ? std::optional(i) : std::nullopt;
        }
        // Paths that name no box: an unboxed suite (no cgroup of its own) is matched by pid below.
        bool any_unboxed = false;
        for (const Suite& s : suites_) any_unboxed = any_unboxed || s.box_name.empty();
        if (!any_unboxed) return std::nullopt;
    }
    if (r.victim_pid <= 0) return std::nullopt;
    // The latest process seen with this pid before the kill.
    const Sighting* best = nullptr;
    auto [first, last] = sightings_.equal_range(r.victim_pid);
    for (auto it = first; it != last; ++it) {
        const Sighting& s = it->second;
        if (has_paths && !suites_[s.suite].box_name.empty()) continue;  // the paths said: not this box
        if (s.first_s <= t && (!best || s.first_s > best->first_s)) best = &s;
    }
    if (!best) return std::nullopt;
    const Suite& s = suites_[best->suite];
    // Still in the box when killed: seen at the last sample before the kill (or at its start).
    if (t > best->last_s + s.interval_s * 1.5 + 0.05) return std::nullopt;
    if (!alive_at(s, t)) return std::nullopt;
    return best->suite;
}

}  // namespace corral

namespace corral {

CounterWindow counters_around(double kill_s, const std::vector<OomCounterSample>& counters, bool ended) {
    CounterWindow w;
    for (const auto& c : counters) {
        if (c.t_s <= kill_s - kClockSlackS) w.before = c;
        if (c.t_s >= kill_s + kClockSlackS && !w.after) w.after = &c;
    }
    if (!w.after && ended && !counters.empty() && counters.back().t_s > w.before.t_s) w.after = &counters.back();
    return w;
}

WhoseAnswer whose_without_header(double kill_s, const std::vector<OomCounterSample>& counters,
                                 const std::string& own_source, std::optional<std::uint64_t> memory_max, bool ended,
                                 const std::vector<std::pair<double, WhoseLimit>>& complete) {
    const std::string lead = "the kernel left out this record's header (it rate-limits the OOM report)";
    std::string counters_said;
    if (own_source.empty() || counters.empty()) {
        counters_said = "the box has no OOM counters";
    } else {
        // base: the last sample at or before the window's start; before and after: around the kill.
        const OomCounterSample zero{};
        const OomCounterSample* base = &zero;
        for (const auto& c : counters)
            if (c.t_s <= kill_s - kOwnLimitWindowS) base = &c;
        const CounterWindow w = counters_around(kill_s, counters, ended);
        const OomCounterSample* before = &w.before;
        const OomCounterSample* after = w.after;
        std::uint64_t usage = 0;  // the highest usage from base to after
        if (!after) {
            counters_said = "no sample of the box's counters came after the kill";
        } else {
            for (const auto& c : counters)
                if (c.t_s >= base->t_s && c.t_s <= after->t_s) usage = std::max(usage, c.memory_bytes);
            const double span = after->t_s - base->t_s;
            const bool hits_rose = after->own_limit_hits > base->own_limit_hits;
            const bool at_limit = memory_max && *memory_max > 0 && *memory_max != kInfinity &&
                                  static_cast<double>(usage) >= kAtLimitFraction * static_cast<double>(*memory_max);
            if (hits_rose || at_limit) {
                std::string why;
                if (hits_rose)
                    why = fmt::format("its {} rose from {} to {}", own_source, base->own_limit_hits,
                                      after->own_limit_hits);
                if (at_limit)
                    why += fmt::format("{}its usage reached {} of its memory.max of {}", hits_rose ? " and " : "",
                                       format_bytes(usage), format_bytes(*memory_max));
                return {WhoseLimit::Own, fmt::format("{}; in the {} around the kill {}: its own limit was reached",
                                                     lead, format_seconds(span), why)};
            }
            if (after->kills > before->kills)
                return {WhoseLimit::Ancestor,
                        fmt::format("{}; in the {} around the kill the box's {} stayed at {}{} while its OOM kill "
                                    "count rose from {} to {}: the limit reached was above the box",
                                    lead, format_seconds(span), own_source, base->own_limit_hits,
                                    memory_max ? fmt::format(" and its usage at most {} of its memory.max of {}",
                                                             format_bytes(usage), format_bytes(*memory_max))
                                               : std::string(),
                                    before->kills, after->kills)};
            counters_said = fmt::format("the box's counters did not change in the {} around the kill",
                                        format_seconds(span));
        }
    }
    const std::pair<double, WhoseLimit>* nearest = nullptr;
    for (const auto& c : complete)
        if (std::fabs(c.first - kill_s) <= kNearestRecordS &&
            (!nearest || std::fabs(c.first - kill_s) < std::fabs(nearest->first - kill_s)))
            nearest = &c;
    if (nearest) {
        const double d = nearest->first - kill_s;
        return {nearest->second,
                fmt::format("{}; {}, so it goes by the nearest complete record of this box, {} {} ({})", lead,
                            counters_said, format_seconds(std::fabs(d)), d < 0 ? "before" : "after",
                            whose_limit_name(nearest->second))};
    }
    return {WhoseLimit::Unknown,
            fmt::format("{}; {}, and no complete record of this box came within {}", lead, counters_said,
                        format_seconds(kNearestRecordS))};
}

}  // namespace corral
