// /proc/<pid>/stat: the parser, and finding a session's processes with it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace corral {

// Parses /proc/<pid>/stat text (comm may contain spaces and parentheses).
struct ProcStat {
    pid_t pid = 0;
    std::string comm;
    char state = '?';
    pid_t ppid = 0;
    pid_t pgrp = 0;
    pid_t session = 0;
    std::uint64_t start_ticks = 0;  // field 22, starttime: clock ticks after boot (a pid with another
                                    // start time is another process)
};
std::optional<ProcStat> parse_proc_stat(const std::string& text);

// Pids of all processes in session sid (scans /proc).
std::vector<pid_t> pids_in_session(pid_t sid);

}  // namespace corral
