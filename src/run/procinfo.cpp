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

namespace {

// argv joined by spaces ("" for a kernel thread or a zombie).
std::string read_cmdline(const std::string& base) {
    std::string cmd = read_file_if_exists(base + "/cmdline").value_or("");
    while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
    for (char& c : cmd)
        if (c == '\0') c = ' ';
    return cmd;
}

// "VmRSS:\t  1234 kB" → 1234 * 1024.
std::uint64_t kb_value(const std::string& line, std::size_t key_len) {
    return std::strtoull(line.c_str() + key_len, nullptr, 10) * 1024;
}

}  // namespace

ProcStatus parse_proc_status(const std::string& status_text) {
    ProcStatus st;
    std::istringstream in(status_text);
    std::string line;
    while (std::getline(in, line)) {
        auto value = [&](std::size_t key_len) {
            auto at = line.find_first_not_of(" \t", key_len);
            return at == std::string::npos ? std::string() : line.substr(at);
        };
        if (line.rfind("Name:", 0) == 0) {
            // The name may end in spaces of its own: only the tab after the key goes.
            st.name = line.size() > 6 && line[5] == '\t' ? line.substr(6) : value(5);
        } else if (line.rfind("State:", 0) == 0) {
            auto v = value(6);
            if (!v.empty()) st.state = v[0];
        } else if (line.rfind("PPid:", 0) == 0) {
            st.ppid = static_cast<pid_t>(std::strtol(line.c_str() + 5, nullptr, 10));
        } else if (line.rfind("VmRSS:", 0) == 0) {
            st.rss_bytes = kb_value(line, 6);
        } else if (line.rfind("VmSwap:", 0) == 0) {
            st.swap_bytes = kb_value(line, 7);
        }
    }
    return st;
}

std::optional<ProcInfo> read_proc_memory(pid_t pid) {
    std::string base = "/proc/" + std::to_string(pid);
    try {
        auto text = read_file_if_exists(base + "/status");
        if (!text) return std::nullopt;
        ProcStatus status = parse_proc_status(*text);
        ProcInfo p;
        p.pid = pid;
        p.ppid = status.ppid;
        p.state = status.state;
        p.comm = status.name;
        p.rss_bytes = status.rss_bytes;
        p.swap_bytes = status.swap_bytes;
        p.cmdline = read_cmdline(base);
        return p;
    } catch (const std::exception&) {
        return std::nullopt;  // it exited while we looked
    }
}

std::optional<ProcInfo> read_proc_info(pid_t pid) {
    auto p = read_proc_memory(pid);
    if (!p) return std::nullopt;
    std::string base = "/proc/" + std::to_string(pid);
    try {
        auto stat_text = read_file_if_exists(base + "/stat");
        auto st = stat_text ? parse_proc_stat(*stat_text) : std::nullopt;
        if (!st) return std::nullopt;
        p->comm = st->comm;  // as the process set it, where status escapes it
        p->state = st->state;
        p->ppid = st->ppid;
        p->wchan = read_file_if_exists(base + "/wchan").value_or("");
        if (p->wchan == "0") p->wchan.clear();
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
