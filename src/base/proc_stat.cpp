#include "corral/base/proc_stat.hpp"

#include <dirent.h>

#include <cstdlib>
#include <memory>
#include <sstream>

#include "corral/base/fd.hpp"

namespace corral {

std::optional<ProcStat> parse_proc_stat(const std::string& text) {
    auto open = text.find('(');
    auto close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
    ProcStat st;
    st.pid = static_cast<pid_t>(std::atoi(text.c_str()));
    st.comm = text.substr(open + 1, close - open - 1);
    std::istringstream rest(text.substr(close + 1));
    if (!(rest >> st.state >> st.ppid >> st.pgrp >> st.session)) return std::nullopt;
    // Fields 7 to 21 (tty_nr … itrealvalue), then 22: starttime.
    std::string skip;
    for (int field = 7; field <= 21; ++field)
        if (!(rest >> skip)) return st;  // a short line (a test's own text): no start time
    rest >> st.start_ticks;
    return st;
}

std::vector<pid_t> pids_in_session(pid_t sid) {
    std::vector<pid_t> out;
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), ::closedir);
    if (!d) return out;
    while (dirent* e = ::readdir(d.get())) {
        char* end;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        try {
            auto text = read_file_if_exists(std::string("/proc/") + e->d_name + "/stat");
            if (!text) continue;
            auto st = parse_proc_stat(*text);
            if (st && st->session == sid && st->state != 'Z') out.push_back(static_cast<pid_t>(pid));
        } catch (const std::exception&) {
        }
    }
    return out;
}

}  // namespace corral
