// The task dump of a kernel OOM report ("Tasks state (memory values in pages):" and one row per
// process), parsed by the column names of its header line, whatever the kernel version printed.
// Pure: no I/O (the page size is a parameter).
//
// Layouts of mm/oom_kill.c dump_tasks()/dump_task() (all end with oom_score_adj and name):
//   4.x (to 4.14):  [ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name
//   4.15 .. 6.7:    [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
//   6.8 and later:  [  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes
//                   swapents oom_score_adj name
// total_vm, rss, rss_anon, rss_file, rss_shmem and swapents are counted in pages, pgtables_bytes in
// bytes, nr_ptes and nr_pmds in page-table pages. A column this parser does not know (a vendor
// kernel's) is kept by its header name in `extra`, as printed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace corral {

struct OomTask {
    pid_t pid = 0;
    std::optional<pid_t> tgid;
    std::optional<std::int64_t> uid;
    std::uint64_t total_vm_bytes = 0, rss_bytes = 0, swap_bytes = 0;
    std::int64_t oom_score_adj = 0;
    std::string name;  // the comm as printed: may contain spaces
    // Columns of some layouts only.
    std::optional<std::uint64_t> rss_anon_bytes, rss_file_bytes, rss_shmem_bytes, pgtables_bytes;
    std::optional<std::int64_t> nr_ptes, nr_pmds;
    std::map<std::string, std::int64_t> extra;  // unknown columns, raw values
};

struct TaskDump {
    std::vector<std::string> columns;  // the header's column names ("pid", "uid", …, "name")
    std::vector<OomTask> tasks;        // in the kernel's order
    std::size_t unparsed_rows = 0;     // rows cut short or not numbers where the header says so
    std::uint64_t page_size = 0;       // the page size the page counts were multiplied by
};

// The page size of this machine (sysconf). A record is parsed where it was read, from this boot's
// kernel log (/dev/kmsg or the journal), so the kernel that wrote it used this page size; a record
// carried to another machine (a fixture) must be parsed with the page size of the one that wrote it.
std::uint64_t system_page_size();

// Finds the dump's header among the report's lines (the lines after it that start with '[' are its
// rows) and parses it; nullopt when there is no header (the kernel's rate limit left the dump out).
std::optional<TaskDump> parse_task_dump(const std::vector<std::string>& lines, std::uint64_t page_size);

// One task: {pid, tgid, uid, total_vm_bytes, rss_bytes, swap_bytes, oom_score_adj, name} and, where
// the layout has them, rss_anon_bytes, rss_file_bytes, rss_shmem_bytes, pgtables_bytes, nr_ptes,
// nr_pmds and the unknown columns by name.
nlohmann::json oom_task_to_json(const OomTask& t);
// The record's "tasks": an array of oom_task_to_json, or null without a dump.
nlohmann::json task_dump_to_json(const std::optional<TaskDump>& dump);

}  // namespace corral
