// Facts about live processes from /proc, for timeout snapshots and left-behind lists.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "corral/base/proc_stat.hpp"
#include "corral/report/result.hpp"

namespace corral {

// Everything ProcInfo holds; nullopt when the process is gone.
std::optional<ProcInfo> read_proc_info(pid_t pid);
// pid, ppid, comm, cmdline, rss and swap only, from /proc/PID/status and cmdline (two reads: no stat,
// no wchan), for reading every process of a box at a memory peak. comm is status's Name (with its
// escapes: "\n" for a newline); state is status's.
std::optional<ProcInfo> read_proc_memory(pid_t pid);

// The fields of /proc/PID/status that corral uses (pure): Name, State, PPid, VmRSS, VmSwap.
struct ProcStatus {
    std::string name;
    char state = '?';
    pid_t ppid = 0;
    std::uint64_t rss_bytes = 0, swap_bytes = 0;  // 0 where the line is missing (a kernel thread)
};
ProcStatus parse_proc_status(const std::string& status_text);
std::vector<ProcInfo> snapshot(const std::vector<pid_t>& pids);
// The process is on its way out: a SIGKILL pending (an OOM victim being reaped, a group kill), or
// exiting. Such a process is not "left running" by anyone.
bool dying(pid_t pid);
// The status text says so (pure: /proc/PID/status).
bool status_says_dying(const std::string& status_text);

}  // namespace corral
