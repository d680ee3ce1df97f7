#include "corral/run/procinfo.hpp"

#include <dirent.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
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

bool status_says_dying(const std::string& status_text) {
    std::istringstream in(status_text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("State:", 0) == 0) {
            auto at = line.find_first_not_of(" \t", 6);
            if (at != std::string::npos && (line[at] == 'Z' || line[at] == 'X')) return true;
        }
        if (line.rfind("ShdPnd:", 0) == 0 || line.rfind("SigPnd:", 0) == 0) {
            std::uint64_t mask = std::strtoull(line.c_str() + 7, nullptr, 16);
            if (mask >> (SIGKILL - 1) & 1) return true;
        }
    }
    return false;
}

bool dying(pid_t pid) {
    try {
        auto text = read_file_if_exists("/proc/" + std::to_string(pid) + "/status");
        return !text || status_says_dying(*text);
    } catch (const std::exception&) {
        return true;  // gone while we looked
    }
}

}  // namespace corral
