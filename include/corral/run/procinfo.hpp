// Facts about live processes from /proc, for timeout snapshots and left-behind lists.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "corral/base/proc_stat.hpp"
#include "corral/report/result.hpp"

namespace corral {

// Everything ProcInfo holds; nullopt when the process is gone.
std::optional<ProcInfo> read_proc_info(pid_t pid);
std::vector<ProcInfo> snapshot(const std::vector<pid_t>& pids);

}  // namespace corral
