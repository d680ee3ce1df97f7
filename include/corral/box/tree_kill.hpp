// Ending every process of a cgroup tree with SIGKILL, without blocking: the one routine the v1 and v2
// boxes and the clean-up of stale boxes use.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "corral/profile/quantities.hpp"

namespace corral {

// One round of ending a tree (Box::kill_round, TreeKill::round).
struct KillRound {
    int signalled = 0;               // processes alive to be killed in this round
    std::optional<Duration> again;   // come back after this long unless the tree is empty by then
    std::vector<std::string> notes;  // what did not go as it should (a freezer that never froze)
};

// How to reach a tree: where its processes are listed, and the kernel's means to end it.
struct TreeTarget {
    std::string procs_dir;  // cgroup directory whose cgroup.procs, and its children's, list the tree
    std::string kill_file;  // "…/cgroup.kill" (Linux 5.14+), or "" for freeze-and-signal
    // Where to freeze: a cgroup2 directory (cgroup.freeze, "frozen" in cgroup.events; Linux 5.2+) or a
    // v1 freezer directory (freezer.state); "" when there is neither (signal rounds without freezing).
    std::string freeze_dir;
    bool v1_freezer = false;
    // Freezers to thaw so that a tree someone else froze can die (the box's own v1 freezer beside a
    // unified cgroup.kill): a v1-frozen task does not act on SIGKILL until thawed.
    std::vector<std::string> thaw_v1;
};

// cgroup.kill where the target has it; otherwise freeze → SIGKILL each → thaw, again until the tree is
// empty. Never sleeps: each round() says when to come back.
class TreeKill {
public:
    explicit TreeKill(TreeTarget target);

    // "cgroup.kill" or "freeze-and-signal" (the report's kill_method).
    std::string method() const { return target_.kill_file.empty() ? "freeze-and-signal" : "cgroup.kill"; }
    // One round. again == nullopt: the tree is empty (nothing left to do).
    KillRound round();
    // Runs rounds until the tree is empty or `limit` passes, waiting between them (for the clean-up of
    // stale boxes before a run starts, outside any event loop); true when the tree is empty.
    bool run_until_empty(Duration limit, std::vector<std::string>& notes);

    // How long a freeze may take before the round signals anyway (a task in uninterruptible sleep
    // never freezes).
    static constexpr Duration kFreezeWait = std::chrono::milliseconds(100);

private:
    bool frozen() const;
    void freeze(bool on);
    void thaw_others();

    TreeTarget target_;
    enum class State { Idle, Freezing } state_ = State::Idle;
    std::chrono::steady_clock::time_point freeze_start_;
    int kill_rounds_ = 0;
    bool noted_freeze_ = false;
};

}  // namespace corral
