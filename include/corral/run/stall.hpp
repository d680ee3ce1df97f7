// Whether a suite has stalled: it printed nothing and its whole tree used no CPU time for a while
// (profile key stall_timeout). Pure: fed by the suite's output and by the CPU time its samples read.
#pragma once

#include <cstdint>
#include <optional>

namespace corral {

enum class StallState {
    Active,   // output or CPU time within the last half of stall_timeout
    Suspect,  // quiet for half of it: the progress area and the periodic line say "stalled?"
    Stalled,  // quiet for all of it: the suite ends as a timeout that says it stalled
};

StallState stall_state(double quiet_s, double stall_timeout_s);

// Times are seconds since the suite started.
class StallWatch {
public:
    // The suite printed something (a line or part of one).
    void output(double t_s);
    // A sample read the tree's CPU time: a change from the previous one is activity (the first is
    // the baseline). nullopt: the box does not measure it.
    void cpu(double t_s, std::optional<std::uint64_t> usage_us);
    // Seconds since the last output or CPU time (since the start when there was none).
    double quiet_s(double now_s) const { return now_s - last_activity_s_; }
    // A sample has read the tree's CPU time (a stall can be told from a busy, silent tree).
    bool cpu_measured() const { return cpu_us_.has_value(); }

private:
    double last_activity_s_ = 0;
    std::optional<std::uint64_t> cpu_us_;
};

}  // namespace corral
