#include "corral/procinfo.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <sstream>

#include "corral/fd.hpp"

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
    return st;
}

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
