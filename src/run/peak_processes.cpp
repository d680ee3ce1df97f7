#include "corral/run/peak_processes.hpp"

#include <algorithm>

#include "corral/run/procinfo.hpp"

namespace corral {

std::vector<ProcInfo> top_by_rss(std::vector<ProcInfo> procs, std::size_t keep) {
    auto larger = [](const ProcInfo& a, const ProcInfo& b) {
        return a.rss_bytes != b.rss_bytes ? a.rss_bytes > b.rss_bytes : a.pid < b.pid;
    };
    if (procs.size() > keep) {
        std::partial_sort(procs.begin(), procs.begin() + static_cast<std::ptrdiff_t>(keep), procs.end(),
                          larger);
        procs.resize(keep);
    } else {
        std::sort(procs.begin(), procs.end(), larger);
    }
    return procs;
}

bool PeakProcesses::due(std::uint64_t bytes) const {
    if (!read_at_) return true;
    return static_cast<double>(bytes) >= static_cast<double>(*read_at_) * (1.0 + kPeakProcessesRise) &&
           bytes > *read_at_;
}

bool PeakProcesses::on_sample(std::uint64_t bytes, double t_s, const std::set<pid_t>& pids,
                              SuiteResult& res) {
    if (!due(bytes) || pids.empty()) return false;
    std::vector<ProcInfo> procs;
    procs.reserve(pids.size());
    for (pid_t p : pids)
        if (auto info = read_proc_memory(p)) procs.push_back(std::move(*info));
    if (procs.empty()) return false;  // all gone since the pids were listed: keep the last reading
    read_at_ = bytes;
    res.peak_processes_count = procs.size();
    res.peak_processes = top_by_rss(std::move(procs), kPeakProcessesKept);
    res.peak_processes_t_s = t_s;
    res.peak_processes_memory_bytes = bytes;
    return true;
}

}  // namespace corral
