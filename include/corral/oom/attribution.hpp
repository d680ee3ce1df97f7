// Which suite a kernel OOM record belongs to. Pure: the supervisor tells it the suites' boxes and the
// processes it saw in them; it answers for each record.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corral/oom/oom_record.hpp"

namespace corral {

// A suite's box OOM counters (box/measure.hpp OomCounters) at t_s, on the kernel's monotonic clock.
struct OomCounterSample {
    double t_s = 0;
    std::uint64_t kills = 0, own_limit_hits = 0;
    std::uint64_t memory_bytes = 0;  // the box's usage then (0: not read)
};

struct WhoseAnswer {
    WhoseLimit whose = WhoseLimit::Unknown;
    std::string reason;  // why, for the report (whose_limit_reason)
};

// A complete record of the same box farther than this from a header-less one says nothing of it.
inline constexpr double kNearestRecordS = 10.0;
// The box's own limit counts as reached for a kill when its own-limit count rose, or its usage was at
// kAtLimitFraction of its memory.max, from this long before the kill to the first sample after it (the
// charge that hit the limit can come some reclaim attempts before the kill itself).
inline constexpr double kOwnLimitWindowS = 1.0;
// A kernel record's stamp (local_clock) and corral's CLOCK_MONOTONIC readings can be this far apart in
// a VM, and the kernel counts a kill a moment before it logs it: the samples "before" and "after" a
// kill are taken at least this far from its stamp.
inline constexpr double kClockSlackS = 0.25;
// How long after a suite's end a kernel record naming its box may be stamped and still be its
// (see OomAttribution::named_in_time): later ones are kills of what it left behind.
inline constexpr double kNamedAfterEndS = 2.0;

// The box's counter samples around a kill: `before` the last one at least kClockSlackS before it (the
// box's zeros when none), `after` the first one at least kClockSlackS after it — or, once the box has
// ended (`ended`), its last sample, which counts every kill in it. after is null while not known yet.
struct CounterWindow {
    OomCounterSample before;
    const OomCounterSample* after = nullptr;
};
CounterWindow counters_around(double kill_s, const std::vector<OomCounterSample>& counters, bool ended);
inline constexpr double kAtLimitFraction = 0.98;

// Whose limit a memcg OOM record without its header (the kernel rate-limits it) was, from what the
// suite knows, in this order:
// 1. the box's counters around the kill (`counters`: ascending, the box's zeros at its creation first):
//    its own-limit count (own_source) rose, or its usage was at its memory.max, from kOwnLimitWindowS
//    before the kill to the first sample after it → Own; neither while its kill count rose → Ancestor;
// 2. the nearest complete record of the same box within kNearestRecordS (`complete`: time, whose);
// 3. otherwise Unknown, with the reason. Never a guess.
WhoseAnswer whose_without_header(double kill_s, const std::vector<OomCounterSample>& counters,
                                 const std::string& own_source, std::optional<std::uint64_t> memory_max, bool ended,
                                 const std::vector<std::pair<double, WhoseLimit>>& complete);

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
    // A record that names the suite's box is the suite's unless it is stamped more than
    // kNamedAfterEndS after the suite ended: a kill at a suite's very end (the one that ended it)
    // can carry a stamp after that end, because the kernel stamps its log with local_clock, not
    // CLOCK_MONOTONIC, and in a VM the two drift apart (the systemd tier's settle case in the test
    // VM had its only record stamped after its suite's end).
    bool named_in_time(const Suite& s, double t) const { return !s.end_s || t <= *s.end_s + kNamedAfterEndS; }

    std::vector<Suite> suites_;
    std::multimap<pid_t, Sighting> sightings_;  // by pid; one entry per process (pid, start time)
};

}  // namespace corral
