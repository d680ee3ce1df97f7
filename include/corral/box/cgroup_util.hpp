// Small cgroupfs helpers shared by the cgroup backends.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "corral/box/backend.hpp"
#include "corral/box/measure.hpp"
#include "corral/box/tree_kill.hpp"

namespace corral {

// First integer in a file ("123\n"); "max" reads as nullopt. Throws on I/O errors.
std::optional<std::uint64_t> read_cg_u64(const std::string& path);
// "key value" lines (memory.stat, memory.events, pids.events, cpu.stat, memory.oom_control).
std::map<std::string, std::uint64_t> read_cg_keyed(const std::string& path);
// PSI file: "some avg10=… total=…\nfull …".
PressureSample parse_pressure(const std::string& text);
// cgroup.procs as pids (missing file: empty).
std::vector<pid_t> read_cg_procs(const std::string& dir);
// cgroup.procs of dir and of every cgroup below it.
std::vector<pid_t> cg_tree_procs(const std::string& dir);
// Writes pid to dir/cgroup.procs.
void cg_enter(const std::string& dir, pid_t pid);
// rmdir of dir and every cgroup below it, deepest first. Throws SysError naming the directory
// (EBUSY: still has processes).
void cg_remove_tree(const std::string& dir);
// Sends sig to every process of dir and the cgroups below it; returns how many were signalled.
int cg_signal_tree(const std::string& dir, int sig);
// Suite-box directory name: "corral-<suite>-<run id>".
std::string box_dir_name(const std::string& suite, const std::string& run_id);
// The run id of a box directory name, or "" when it is not one of ours.
std::string run_id_of_box(const std::string& dir_name);
// Subdirectories of dir whose names start with "corral-".
std::vector<std::string> list_box_dirs(const std::string& dir);

// Turns a failed mkdir/write in cgroupfs into advice a user can act on ("" when there is none).
std::string cgroup_advice(int err, const std::string& path);
// mkdir of a cgroup; a failure is a SysError naming the directory, with advice where there is some.
void cg_make(const std::string& dir);
// "populated" read through an open cgroup.events fd: kernfs keeps signalling EPOLLPRI on an fd until
// that fd has read the file's new contents.
bool cg_events_populated(int fd);
// CORRAL_COMPAT=no-clone-into-cgroup,no-cgroup-kill,no-memory-peak (or "old-kernel" for all three)
// makes corral behave as on a kernel without that feature, so the fallbacks can be exercised on a
// new kernel (tests, and containers whose seccomp filter breaks a feature). True when `feature` is off.
bool compat_disabled(const std::string& feature);

// "4242 (sleep, state D), 4250 (sh, state S) and 3 more": processes for a message.
std::string describe_procs(const std::vector<pid_t>& pids);

// How to end the tree of a box made of these directories (any may be ""): cgroup.kill of the unified one
// where the kernel has it (and CORRAL_COMPAT does not turn it off), else freeze-and-signal with the v1
// freezer or the unified cgroup.freeze; processes listed from the unified directory, else the v1 memory one.
TreeTarget box_kill_target(const std::string& unified_dir, const std::string& v1_freezer_dir,
                           const std::string& v1_memory_dir);

// Where a launcher's boxes live: its own cgroup in each hierarchy.
struct BoxParents {
    std::vector<std::string> dirs;  // every hierarchy's (v1 controllers and the unified one)
    std::string unified, freezer, memory;  // the unified one; the v1 freezer and memory ones ("" without)
};

// Kills what runs in, and removes, every box below `parents` whose launcher is gone, box by box (all
// hierarchies of one name together). A box that cannot be emptied or removed now (a process in
// uninterruptible sleep) is left with a message and its run id in `remaining`: never an error.
StaleCleanup cg_remove_stale_boxes(const BoxParents& parents, const std::string& own_run_id, const LauncherGone& gone);

}  // namespace corral
