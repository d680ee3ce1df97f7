#include "corral/run/procinfo.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <sstream>

#include "corral/base/fd.hpp"

namespace corral {

std::optional<ProcInfo> read_proc_info(pid_t pid) {
    std::string base = "/proc/" + std::to_string(pid);
    try {
        auto stat_text = read_file_if_exists(base + "/stat");
        if (!stat_text) return std::nullopt;
        auto st = parse_proc_stat(*stat_text);
        if (!st) return std::nullopt;
        ProcInfo p;
        p.pid = pid;
        p.ppid = st->ppid;
        p.state = st->state;
        p.comm = st->comm;
        p.wchan = read_file_if_exists(base + "/wchan").value_or("");
        if (p.wchan == "0") p.wchan.clear();
        std::istringstream status(read_file_if_exists(base + "/status").value_or(""));
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("VmRSS:", 0) == 0) p.rss_bytes = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
        }
        std::string cmd = read_file_if_exists(base + "/cmdline").value_or("");
        while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
        for (char& c : cmd)
            if (c == '\0') c = ' ';
        p.cmdline = cmd;
        return p;
    } catch (const std::exception&) {
        return std::nullopt;  // it exited while we looked
    }
}

std::vector<ProcInfo> snapshot(const std::vector<pid_t>& pids) {
    std::vector<ProcInfo> out;
    for (pid_t p : pids)
        if (auto info = read_proc_info(p)) out.push_back(std::move(*info));
    return out;
}

}  // namespace corral
