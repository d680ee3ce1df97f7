// The "unboxed" backend (--allow-unboxed): no cgroup, nothing enforced, and the report says so.
// The suite runs in its own session, which is how its tree is found and ended.
#include "corral/box/unboxed.hpp"

#include <signal.h>

#include "corral/base/proc_stat.hpp"

namespace corral {

namespace {

class UnboxedBox : public Box {
public:
    explicit UnboxedBox(std::string why) : why_(std::move(why)) {}
    ~UnboxedBox() override {
        if (sid_ > 0) signal_all(SIGKILL);
    }

    void apply_limits(const Limits& l) override {
        auto note = [&](const char* what) { notes_.push_back(std::string(what) + ": not enforced (unboxed: " + why_ + ")"); };
        if (l.memory_max) note("memory.max");
        if (l.memory_high) note("memory.high");
        if (l.swap_max) note("swap_max");
        if (l.tasks_max) note("tasks_max");
        if (l.cpu_quota_percent) note("cpu.quota");
        if (l.oom_group) note("memory.oom_group");
        notes_.push_back("peak memory and OOM kills are not measured without a cgroup; processes that leave the "
                         "suite's session (setsid) are not tracked");
    }
    bool enter(pid_t pid) override {
        sid_ = pid;  // the child calls setsid(): its session id is its pid
        return true;
    }
    int populated_fd() const override { return -1; }
    bool populated() override { return !pids().empty(); }
    std::vector<pid_t> pids() override { return sid_ > 0 ? pids_in_session(sid_) : std::vector<pid_t>{}; }
    int signal_all(int sig) override {
        int n = 0;
        for (pid_t p : pids())
            if (::kill(p, sig) == 0) ++n;
        return n;
    }
    // No cgroup: SIGKILL to each process of the session, again while any is left.
    KillRound kill_round() override {
        KillRound r;
        r.signalled = signal_all(SIGKILL);
        if (r.signalled > 0) r.again = std::chrono::milliseconds(10);
        return r;
    }
    std::string kill_method() const override { return "signal-each"; }
    BoxSample sample() override { return {}; }
    BoxCounters counters() override { return {}; }
    std::vector<std::string> notes() const override { return notes_; }
    std::string cgroup_name() const override { return ""; }
    std::string describe() const override { return "unboxed (session " + std::to_string(sid_) + ")"; }
    bool enforced() const override { return false; }

private:
    std::string why_;
    pid_t sid_ = 0;
    std::vector<std::string> notes_;
};

class UnboxedBackend : public Backend {
public:
    explicit UnboxedBackend(std::string why) : why_(std::move(why)) {}
    std::string name() const override { return "unboxed"; }
    std::unique_ptr<Box> create_box(const std::string&) override { return std::make_unique<UnboxedBox>(why_); }
    StaleCleanup remove_stale(const LauncherGone&) override { return {}; }

private:
    std::string why_;
};

}  // namespace

std::unique_ptr<Backend> make_unboxed_backend(const std::string& why) { return std::make_unique<UnboxedBackend>(why); }

}  // namespace corral
