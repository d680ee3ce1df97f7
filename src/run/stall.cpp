#include "corral/run/stall.hpp"

#include <algorithm>

namespace corral {

StallState stall_state(double quiet_s, double stall_timeout_s) {
    if (stall_timeout_s <= 0) return StallState::Active;
    if (quiet_s >= stall_timeout_s) return StallState::Stalled;
    if (quiet_s >= stall_timeout_s / 2) return StallState::Suspect;
    return StallState::Active;
}

void StallWatch::output(double t_s) { last_activity_s_ = std::max(last_activity_s_, t_s); }

void StallWatch::cpu(double t_s, std::optional<std::uint64_t> usage_us) {
    if (!usage_us) return;
    if (cpu_us_ && *usage_us != *cpu_us_) last_activity_s_ = std::max(last_activity_s_, t_s);
    cpu_us_ = usage_us;
}

}  // namespace corral
