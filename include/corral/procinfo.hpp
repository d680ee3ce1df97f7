// Facts about live processes from /proc, for timeout snapshots and left-behind lists.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "corral/result.hpp"

namespace corral {

// Parses /proc/<pid>/stat text (comm may contain spaces and parentheses).
struct ProcStat {
    pid_t pid = 0;
    std::string comm;
    char state = '?';
    pid_t ppid = 0;
    pid_t pgrp = 0;
    pid_t session = 0;
};
std::optional<ProcStat> parse_proc_stat(const std::string& text);

// Everything ProcInfo holds; nullopt when the process is gone.
std::optional<ProcInfo> read_proc_info(pid_t pid);
std::vector<ProcInfo> snapshot(const std::vector<pid_t>& pids);
// Pids of all processes in session sid (scans /proc).
std::vector<pid_t> pids_in_session(pid_t sid);

}  // namespace corral
