// The box's processes at its memory peak (the report's memory.peak_processes): what in the suite held
// the memory. Reading every process of a box costs two small reads each, so they are read again only
// when a sample is kPeakProcessesRise above the one they were last read at: at most
// log(peak / first sample) / log(1.05) readings in a run (about 140 from 1 MiB to 1 GiB), none while
// the usage stays below a level already read.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "corral/report/result.hpp"

namespace corral {

inline constexpr double kPeakProcessesRise = 0.05;     // 5 % above the usage they were last read at
inline constexpr std::size_t kPeakProcessesKept = 10;  // the largest by RSS are kept

// The largest `keep` by RSS, largest first (equal RSS: lower pid first).
std::vector<ProcInfo> top_by_rss(std::vector<ProcInfo> procs, std::size_t keep);

class PeakProcesses {
public:
    // A sample of the box's usage: bytes reached kPeakProcessesRise above the usage of the last
    // reading (the first sample always reads).
    bool due(std::uint64_t bytes) const;
    // At each sample: when due(bytes), reads the processes in pids into res.peak_processes (and when,
    // at what usage, how many). Returns whether it read them.
    bool on_sample(std::uint64_t bytes, double t_s, const std::set<pid_t>& pids, SuiteResult& res);

private:
    std::optional<std::uint64_t> read_at_;
};

}  // namespace corral
