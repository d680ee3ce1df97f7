// What a box measures: memory and pressure samples and the counters read at the end.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace corral {

// PSI from memory.pressure (cumulative stall totals in microseconds).
struct PressureSample {
    double t_s = 0;
    double some_avg10 = 0, full_avg10 = 0;
    std::uint64_t some_total_us = 0, full_total_us = 0;
};

struct BoxSample {
    std::uint64_t memory_bytes = 0;
    // The tree's CPU time so far (v2 / v1 unified cpu.stat usage_usec, v1 cpuacct.usage); nullopt
    // where the backend has none (unboxed).
    std::optional<std::uint64_t> cpu_usage_us;
    std::optional<PressureSample> pressure;  // t_s left 0; the caller stamps it
};

// Counters read at the end of a run (and whenever the caller wants them).
struct BoxCounters {
    std::optional<std::uint64_t> peak_bytes;
    std::string peak_source;
    std::uint64_t oom_kills = 0;
    std::uint64_t memory_failcnt = 0;
    std::uint64_t tasks_limit_hits = 0;
    std::optional<std::uint64_t> cpu_usage_us, cpu_throttled_us, cpu_nr_throttled;
    // Raw counter files where the backend has them (cgroup v2); empty otherwise.
    std::map<std::string, std::uint64_t> memory_events, memory_events_local, pids_events, cpu_stat;
    // The service manager's own view of the box (systemd scope: unit, result, …); null otherwise.
    nlohmann::json manager_view;
};

// The box's OOM counters now, read with every sample: the kills in it, and how often its own memory
// limit was reached (v2: memory.events oom, the OOM events of this cgroup and below; v1:
// memory.failcnt, the charges that hit its limit). A kill while the own count rises was caused by the
// box's own limit; one while it stays was caused by an ancestor's.
struct OomCounters {
    std::uint64_t kills = 0;
    std::uint64_t own_limit_hits = 0;
    const char* own_source = "";  // "memory.events oom" | "memory.failcnt" ("" without one)
};

struct MemorySplit {
    std::uint64_t anon_bytes = 0, file_bytes = 0;
};

}  // namespace corral
