// Where the launcher's own cgroups are: /proc/self/cgroup mapped through /proc/self/mountinfo.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace corral {

// One line of /proc/<pid>/cgroup: "4:memory:/process_api/x" or "0::/".
struct ProcCgroup {
    int id = 0;
    std::vector<std::string> controllers;  // {"memory"}, {"cpu","cpuacct"}, {"name=systemd"}, {} for v2
    std::string path;
};
std::vector<ProcCgroup> parse_proc_cgroup(const std::string& text);

// A cgroup or cgroup2 mount from /proc/self/mountinfo.
struct CgroupMount {
    std::string root;        // field 4: the mount's root inside the hierarchy ("/", "/../..")
    std::string mountpoint;  // field 5
    std::string fstype;      // "cgroup" | "cgroup2"
    std::vector<std::string> options;  // super options: "rw", "memory", "name=systemd", …
    bool read_only = false;  // mount options contain ro
};
std::vector<CgroupMount> parse_mountinfo_cgroups(const std::string& text);

// Maps a cgroup path (as /proc/self/cgroup shows it) to a directory, given the mount.
// Returns nullopt when the mount root lies above the cgroup namespace root ("/../.."): then
// the directory must be found by searching (see find_own_cgroup_dir).
std::optional<std::string> map_cgroup_path(const CgroupMount& m, const std::string& cgroup_path);
// Number of leading "/.." components of a mount root.
int mount_root_ups(const std::string& root);

// The launcher's own directory in one hierarchy. Uses map_cgroup_path, or searches the mount
// `ups` levels deep for the directory whose cgroup.procs lists `pid`.
std::optional<std::string> find_own_cgroup_dir(const CgroupMount& m, const std::string& cgroup_path, pid_t pid);

// The launcher's hierarchies: controller → mount + own dir.
struct Hierarchy {
    std::string controller;  // "memory", "pids", "cpu", "freezer", … or "" for cgroup2
    CgroupMount mount;
    std::string own_dir;  // filesystem path of the launcher's cgroup
};

// The launcher's cgroup as the kernel names it in OOM lines (relative to the hierarchy's root),
// or "" when it is the root itself.
std::string kernel_cgroup_path(const Hierarchy& h);

enum class CgroupMode { None, Legacy, Hybrid, Unified };
std::string cgroup_mode_name(CgroupMode m);

struct CgroupLayout {
    CgroupMode mode = CgroupMode::None;
    std::vector<Hierarchy> v1;         // one per v1 controller we care about and found
    std::optional<Hierarchy> unified;  // the cgroup2 hierarchy, if mounted
    const Hierarchy* find(const std::string& controller) const;
};
// Reads /proc/self/cgroup and /proc/self/mountinfo. Controllers of interest on v1:
// memory, pids, cpu, freezer (cpuacct when separate).
CgroupLayout detect_layout();

}  // namespace corral
