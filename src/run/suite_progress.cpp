// What the progress output shows of a suite, and its stall_timeout: no output and no CPU time in its
// whole tree for that long ends it as a timeout whose explanation says it stalled, where (its last
// line) and in what (the tree's states).
#include <fmt/format.h>

#include "corral/run/procinfo.hpp"
#include "corral/run/suite_run.hpp"

namespace corral {

SuiteStatus SuiteRun::status() const {
    SuiteStatus s;
    s.name = spec_.name;
    s.elapsed_s = seconds_since(t0_);
    if (spec_.timeout) s.timeout_s = to_seconds(*spec_.timeout);
    s.memory_bytes = memory_now_;
    if (has_memory_max(spec_.limits)) s.memory_max = spec_.limits.memory_max;
    s.last_line = live_line_;
    s.quiet_s = stall_.quiet_s(s.elapsed_s);
    if (spec_.stall_timeout && stall_.cpu_measured()) s.stall = stall_state(s.quiet_s, to_seconds(*spec_.stall_timeout));
    s.ending = phase_ != Phase::Running;
    return s;
}

void SuiteRun::check_stall() {
    if (!spec_.stall_timeout || phase_ != Phase::Running || res_.timed_out || !box_) return;
    if (!stall_.cpu_measured()) {
        // Output alone would end a busy, silent suite: without its CPU time there is no stall check.
        if (!stall_unmeasured_noted_) {
            stall_unmeasured_noted_ = true;
            note(fmt::format("stall_timeout {} was not applied: the {} backend does not measure the tree's CPU time",
                             format_duration(*spec_.stall_timeout), res_.backend));
        }
        return;
    }
    const double quiet = stall_.quiet_s(seconds_since(t0_));
    if (stall_state(quiet, to_seconds(*spec_.stall_timeout)) != StallState::Stalled) return;
    res_.stalled = true;
    res_.timed_out = true;
    res_.timeout_snapshot = snapshot(box_->pids());
    if (!spec_.on_timeout.empty()) return start_hook();
    begin_termination();
}

}  // namespace corral
