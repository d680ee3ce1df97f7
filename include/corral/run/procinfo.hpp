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
// The process is on its way out: a SIGKILL pending (an OOM victim being reaped, a group kill), or
// exiting. Such a process is not "left running" by anyone.
bool dying(pid_t pid);
// The status text says so (pure: /proc/PID/status).
bool status_says_dying(const std::string& status_text);

}  // namespace corral
