#include "corral/report/oom_victim.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace corral {

const OomKill* named_oom_kill(const SuiteResult& r) {
    const OomKill* first = nullptr;
    for (const auto& k : r.oom_records) {
        if (k.victim_pid <= 0) continue;
        if (k.whose == "own") return &k;
        if (!first) first = &k;
    }
    return first;
}

std::optional<OtherProcess> largest_other_process(const SuiteResult& r, const OomKill& k) {
    std::optional<OtherProcess> best;
    auto consider = [&](pid_t pid, const std::string& comm, std::uint64_t rss, bool from_dump) {
        if (pid == k.victim_pid) return;
        if (!best || rss > best->rss_bytes) best = OtherProcess{pid, comm, rss, from_dump};
    };
    if (k.task_dump) {
        // Outside a memcg OOM of the box itself the dump lists other cgroups' processes too: only
        // those seen in the box count.
        std::set<pid_t> seen;
        for (const auto* list : {&r.peak_processes, &r.left_behind, &r.timeout_snapshot})
            for (const auto& p : *list) seen.insert(p.pid);
        for (const auto& t : k.task_dump->tasks) {
            if (t.tgid && *t.tgid == k.victim_pid) continue;  // the victim's own threads
            if (k.whose == "own" || seen.count(t.pid)) consider(t.pid, t.name, t.rss_bytes, true);
        }
        return best;
    }
    for (const auto& p : r.peak_processes) consider(p.pid, p.comm, p.rss_bytes, false);
    return best;
}

std::string oom_victim_clause(const SuiteResult& r) {
    const OomKill* k = named_oom_kill(r);
    if (!k) return "";
    std::string share = format_bytes(k->rss_kb * 1024);
    if (has_memory_max(r.limits)) share += " of " + format_bytes(*r.limits.memory_max);
    const bool first = oom_kill_count(r) > 1 && k == &r.oom_records.front();
    std::string s = fmt::format("; the kernel {}killed {} ({}, {})", first ? "first " : "", k->victim_pid,
                                k->victim_comm, share);
    if (auto other = largest_other_process(r, *k)) {
        s += fmt::format(" while {} ({}) held {}", other->pid, other->comm, format_bytes(other->rss_bytes));
        if (!other->from_dump && r.peak_processes_t_s)
            s += fmt::format(" when last read at t={}", format_seconds(*r.peak_processes_t_s));
    }
    return s;
}

}  // namespace corral
