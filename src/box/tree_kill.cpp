#include "corral/box/tree_kill.hpp"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/box/cgroup_util.hpp"

namespace corral {

namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
}  // namespace

TreeKill::TreeKill(TreeTarget target) : target_(std::move(target)) {}

bool TreeKill::frozen() const {
    if (target_.freeze_dir.empty()) return true;  // nothing to wait for
    if (target_.v1_freezer)
        return read_file_if_exists(target_.freeze_dir + "/freezer.state").value_or("").rfind("FROZEN", 0) == 0;
    auto events = read_file_if_exists(target_.freeze_dir + "/cgroup.events").value_or("");
    return events.find("frozen 1") != std::string::npos;
}

void TreeKill::freeze(bool on) {
    if (target_.freeze_dir.empty()) return;
    if (target_.v1_freezer)
        write_file(target_.freeze_dir + "/freezer.state", on ? "FROZEN" : "THAWED");
    else
        write_file(target_.freeze_dir + "/cgroup.freeze", on ? "1" : "0");
}

void TreeKill::thaw_others() {
    for (const auto& d : target_.thaw_v1) {
        try {
            if (path_exists(d + "/freezer.state")) write_file(d + "/freezer.state", "THAWED");
        } catch (const Error&) {
            // best effort: the freezer may be gone with its box
        }
    }
}

KillRound TreeKill::round() {
    KillRound out;
    const auto procs = cg_tree_procs(target_.procs_dir);
    if (!target_.kill_file.empty()) {
        if (procs.empty()) return out;
        // One write ends the whole tree; again only for a tree that outlives it (frozen by someone).
        write_file(target_.kill_file, "1");
        if (kill_rounds_ > 0) thaw_others();
        out.signalled = static_cast<int>(procs.size());
        out.again = milliseconds(std::min(1000, 100 << std::min(kill_rounds_, 3)));
        ++kill_rounds_;
        return out;
    }
    if (state_ == State::Idle) {
        if (procs.empty()) return out;
        // Freeze first, so that nothing forks between reading the tree and signalling it.
        freeze(true);
        state_ = State::Freezing;
        freeze_start_ = Clock::now();
    }
    if (!frozen() && Clock::now() - freeze_start_ < kFreezeWait) {
        out.again = milliseconds(1);  // the kernel freezes asynchronously (FREEZING → FROZEN)
        return out;
    }
    if (!frozen() && !noted_freeze_) {
        noted_freeze_ = true;
        out.notes.push_back(fmt::format(
            "the freezer {} did not reach FROZEN within {} (a process in uninterruptible sleep does not freeze): "
            "corral signalled the processes it found without waiting longer",
            target_.freeze_dir, format_duration(kFreezeWait)));
    }
    for (pid_t p : cg_tree_procs(target_.procs_dir))
        if (::kill(p, SIGKILL) == 0) ++out.signalled;
    freeze(false);  // a v1-frozen task acts on SIGKILL only once thawed
    thaw_others();
    state_ = State::Idle;
    ++kill_rounds_;
    out.again = milliseconds(2);
    return out;
}

bool TreeKill::run_until_empty(Duration limit, std::vector<std::string>& notes) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
        KillRound r = round();
        for (auto& n : r.notes) notes.push_back(std::move(n));
        if (!r.again) return true;
        const auto left = deadline - Clock::now();
        if (left <= Duration::zero()) return cg_tree_procs(target_.procs_dir).empty();
        const auto wait = std::min<Duration>(*r.again, std::chrono::duration_cast<Duration>(left));
        timespec ts{static_cast<time_t>(wait.count() / 1'000'000), static_cast<long>(wait.count() % 1'000'000 * 1000)};
        ::nanosleep(&ts, nullptr);
    }
}

}  // namespace corral
