// Who an OOM kill took and who else held the memory: the victim's share of the limit and the largest
// other process of the box, from the kernel record's task dump (or, where the kernel's rate limit
// left the dump out, from the box's processes read at its peak).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "corral/report/result.hpp"

namespace corral {

struct OtherProcess {
    pid_t pid = 0;
    std::string comm;
    std::uint64_t rss_bytes = 0;
    bool from_dump = true;  // false: from memory.peak_processes (the record had no task dump)
};

// The record the explanation names: the first kill by the box's own limit, else the first kill.
const OomKill* named_oom_kill(const SuiteResult& r);

// The largest process of the box other than k's victim: from k's task dump (in a memcg OOM of the
// box every task listed is the box's; in another OOM only the tasks whose pid was seen in the box);
// without a dump, from r.peak_processes. nullopt when there is none.
std::optional<OtherProcess> largest_other_process(const SuiteResult& r, const OomKill& k);

// "; the kernel killed 27576 (python3, 124.6 MiB of 256 MiB) while 27570 (python3) held 98 MiB", or
// "" without a record naming a victim.
std::string oom_victim_clause(const SuiteResult& r);

}  // namespace corral
