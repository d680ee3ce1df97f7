// The box interface: every backend (cgroup v1, cgroup v2, systemd scope, unboxed) is a peer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "corral/box/measure.hpp"
#include "corral/box/tree_kill.hpp"
#include "corral/profile/profile.hpp"

namespace corral {

// One suite's resource box. No method waits: what takes time (a systemd job, a freezer, a unit
// that unloads) is done in steps that say when to come back, driven by the run's event loop.
class Box {
public:
    // Normally the box was released (release() returned nullopt). Otherwise (corral unwinding) it
    // ends what is left and removes what it can without waiting, and warns about the rest.
    virtual ~Box() = default;

    // Writes the limits; throws Error naming the file, the value and errno text.
    virtual void apply_limits(const Limits& limits) = 0;
    // Places pid in the box (every hierarchy). Called after fork, before the child execs. True when
    // the child is in the box; false when that takes time (a systemd job): then call enter_done()
    // after the backend's events (Backend::dispatch) and at least every enter_poll(), until it
    // returns true. Both throw Error when the child cannot be placed.
    virtual bool enter(pid_t pid) = 0;
    virtual bool enter_done() { return true; }
    static constexpr Duration enter_poll() { return std::chrono::milliseconds(50); }

    // An fd whose EPOLLPRI says "populated changed" (cgroup.events), or -1: poll populated().
    virtual int populated_fd() const = 0;
    virtual bool populated() = 0;
    virtual std::vector<pid_t> pids() = 0;

    // Sends sig to every process in the box now; returns how many were signalled.
    virtual int signal_all(int sig) = 0;
    // Ends the whole tree with SIGKILL, one round a call (box/tree_kill.hpp): come back after
    // `again` unless the box has emptied by then.
    virtual KillRound kill_round() = 0;
    // How kill_round() ends the tree: "cgroup.kill", "freeze-and-signal", "KillUnit" (the report's
    // kill_method).
    virtual std::string kill_method() const = 0;
    // Lets go of the box once the suite is over and its counters are read: removes its cgroups, or
    // lets its unit go. nullopt: done; else call again after at most this long (or after the
    // backend's events). Throws Error when it cannot be done (the caller notes it and moves on).
    virtual std::optional<Duration> release() { return std::nullopt; }

    virtual BoxSample sample() = 0;
    virtual BoxCounters counters() = 0;
    // anon / file from memory.stat (read when a sample sets a new peak), or nullopt.
    virtual std::optional<MemorySplit> memory_split() { return std::nullopt; }

    // memory.oom_group: true when the kernel kills the whole box on an OOM (cgroup v2). Otherwise
    // corral emulates it, polling oom_counters_now() and killing the tree after the first OOM kill.
    virtual bool oom_group_native() const { return true; }
    // The box's OOM counters now (read with every sample: the samples around a kill are kept, and a
    // kernel record without its header is told own or ancestor by them); zeros where the backend has
    // none.
    virtual OomCounters oom_counters_now() { return {}; }

    // A directory fd of the box's cgroup when the box is a single cgroup (v2): a child started
    // with clone3(CLONE_INTO_CGROUP) on it is in the box from its first instruction, and needs no
    // enter(). -1 otherwise.
    virtual int cgroup_fd() const { return -1; }

    // Limit-by-limit remarks for the report (e.g. v1 has no MemoryHigh throttling).
    virtual std::vector<std::string> notes() const = 0;
    // How enter() puts a process in the box, for the report's start_method.
    virtual std::string entry_method() const { return "cgroup.procs"; }
    // The box's own cgroup directory name ("corral-unit-1a2b3c4d", "corral-unit-1a2b3c4d.scope"),
    // which the kernel's OOM lines end with; "" when unboxed.
    virtual std::string cgroup_name() const = 0;
    // Where the box lives, for people ("memory:/…/corral-x-1a2b, pids:/…").
    virtual std::string describe() const = 0;
    // Whether limits are really enforced (false for the unboxed fallback).
    virtual bool enforced() const { return true; }
};

// Whether the launcher of a run id is gone, so that the boxes named with it are stale.
using LauncherGone = std::function<bool(const std::string& run_id)>;

struct StaleCleanup {
    std::vector<std::string> messages;  // one per box: what was removed, or why not yet
    std::set<std::string> cleared;      // run ids whose boxes are all gone now
    std::set<std::string> remaining;    // run ids with a box that could not be removed yet
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;  // "cgroup-v1", "cgroup-v2", "systemd-scope", "unboxed"
    virtual std::unique_ptr<Box> create_box(const std::string& suite_name) = 0;
    // Empties and removes the boxes of runs whose launcher is gone (`gone` answers from the
    // launchers' run locks, run/run_lock.hpp); says what it did, box by box.
    virtual StaleCleanup remove_stale(const LauncherGone& gone) = 0;
    // The launcher's memory cgroup as the kernel names it in OOM lines ("" when unknown or the
    // root): OOM kills below it that hit no suite are the run's own records.
    virtual std::string launcher_memcg() const { return ""; }
    // What setting up the backend changed on the machine (for the report and --verbose), e.g.
    // the launcher moving itself into a leaf cgroup.
    virtual std::vector<std::string> setup_notes() const { return {}; }
    // An fd the run's event loop watches (EPOLLIN) for the backend (the systemd bus), or -1; then
    // dispatch() handles what came, and is also called before every wait of the loop, for messages
    // a method call read along with its reply. Boxes waiting in enter_done() or release() are asked
    // again after it.
    virtual int event_fd() const { return -1; }
    virtual void dispatch() {}
};

}  // namespace corral
