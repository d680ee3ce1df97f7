#include "corral/oom/attribution.hpp"

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
                return alive_at(s, t) ? std::optional(i) : std::nullopt;
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
