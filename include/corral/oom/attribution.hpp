// Which suite a kernel OOM record belongs to. Pure: the supervisor tells it the suites' boxes and the
// processes it saw in them; it answers for each record.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "corral/oom/oom_record.hpp"

namespace corral {

class OomAttribution {
public:
    // A suite's box, by its cgroup directory name ("" when unboxed), started at start_s (seconds on
    // the kernel's monotonic clock, as the records' stamps), sampled every interval_s.
    std::size_t add_suite(std::string box_name, double start_s, double interval_s);
    // The suite is over: no record stamped after end_s is its own.
    void suite_ended(std::size_t suite, double end_s);
    // The process (pid, start time in ticks since boot) was in the suite's box at t_s.
    void seen(std::size_t suite, pid_t pid, std::uint64_t start_ticks, double t_s);

    // The suite the record belongs to, or nullopt (another cgroup, or not ours).
    // - The box path decides: a record whose task_memcg or oom_memcg is a suite's box (or below it)
    //   is that suite's, and no other's.
    // - Only a record without cgroup paths (the kernel rate-limits the OOM report header: in a storm
    //   only the "Killed process" line comes) is matched by its victim pid: to the suite whose box
    //   held the process that had that pid at the record's time — the latest process seen with that
    //   pid before the kill, still seen within a sample interval of it (a reused pid is another process).
    // - Never to a suite that had ended before the record's time.
    std::optional<std::size_t> owner(const OomRecord& r) const;

private:
    struct Suite {
        std::string box_name;
        double start_s = 0, interval_s = 0.1;
        std::optional<double> end_s;
    };
    struct Sighting {
        std::size_t suite;
        std::uint64_t start_ticks;
        double first_s, last_s;
    };
    bool alive_at(const Suite& s, double t) const { return !s.end_s || t <= *s.end_s; }

    std::vector<Suite> suites_;
    std::multimap<pid_t, Sighting> sightings_;  // by pid; one entry per process (pid, start time)
};

}  // namespace corral
