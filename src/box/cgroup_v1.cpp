#include "corral/box/cgroup_v1.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <iostream>
#include <thread>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/box/cgroup_util.hpp"
#include "corral/box/tree_kill.hpp"
#include "corral/profile/quantities.hpp"

namespace corral {

namespace {

std::string v1_size_value(std::uint64_t v) { return v == kInfinity ? "-1" : std::to_string(v); }

class CgroupV1Box : public Box {
public:
    // Makes corral-<suite>-<id> below the launcher's cgroup in every hierarchy. With `adopt`,
    // `name` is instead a cgroup path that exists already (a systemd scope's ControlGroup), taken
    // below each hierarchy's mount point and left to its owner at the end.
    CgroupV1Box(const CgroupLayout& layout, const std::string& name, bool adopt = false)
        : owned_(!adopt), name_(name.substr(name.rfind('/') + 1)) {
        try {
            for (const auto& h : layout.v1) {
                std::string dir = h.own_dir + "/" + name;
                if (adopt) {
                    auto mapped = map_cgroup_path(h.mount, name);
                    if (!mapped || !path_exists(*mapped)) continue;  // a controller the manager does not use
                    dir = *mapped;
                }
                if (!adopt) {
                    cg_make(dir);
                    to_remove_.insert(to_remove_.begin(), dir);
                }
                created_.push_back(dir);
                if (h.controller == "memory") mem_ = dir;
                if (h.controller == "pids") pids_ = dir;
                if (h.controller == "cpu") {
                    cpu_ = dir;
                    if (std::find(h.mount.options.begin(), h.mount.options.end(), "cpuacct") != h.mount.options.end())
                        cpuacct_ = dir;
                }
                if (h.controller == "cpuacct") cpuacct_ = dir;
                if (h.controller == "freezer") freezer_ = dir;
            }
            if (layout.unified) {
                unified_ = layout.unified->own_dir + "/" + name;
                if (adopt) {
                    auto mapped = map_cgroup_path(layout.unified->mount, name);
                    unified_ = mapped && path_exists(*mapped) ? *mapped : "";
                } else {
                    cg_make(unified_);
                    to_remove_.push_back(unified_);
                }
            }
            if (!unified_.empty()) {
                events_ = UniqueFd(::open((unified_ + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
                if (!events_) throw_errno("open " + unified_ + "/cgroup.events");
            }
            if (mem_.empty()) throw Error("no memory cgroup at " + name);
            kill_.emplace(box_kill_target(unified_, freezer_, mem_));
        } catch (...) {
            try {
                remove_dirs();
            } catch (const Error&) {
                // the error that brought us here is the one to report
            }
            throw;
        }
    }

    // Normally release() has removed the box. Here (corral unwinding) nothing may wait: one kill round
    // and one try at removing; what stays is a stale box that a later run removes.
    ~CgroupV1Box() override {
        if (to_remove_.empty()) return;
        try {
            if (kill_ && populated()) kill_->round();
            remove_dirs();
        } catch (const std::exception& e) {
            std::cerr << "corral: warning: removing the suite's cgroups: " << e.what() << "\n";
        }
    }

    std::optional<Duration> release() override {
        if (!owned_) return std::nullopt;
        if (populated()) {  // not normally: the caller releases an empty box
            kill_->round();
            return std::chrono::milliseconds(10);
        }
        return remove_dirs_or_retry();
    }

    void apply_limits(const Limits& l) override {
        limits_ = l;
        if (l.memory_max)
            with_context("applying memory.max", [&] { write_file(mem_ + "/memory.limit_in_bytes", v1_size_value(*l.memory_max)); });
        if (l.swap_max) {
            with_context("applying swap_max", [&] {
                std::string memsw = mem_ + "/memory.memsw.limit_in_bytes";
                if (!path_exists(memsw))
                    throw Error(memsw + " does not exist: swap accounting is off (boot with swapaccount=1), so swap_max cannot be enforced");
                if (!l.memory_max)
                    throw Error("cgroup v1 limits memory and swap together (memory.memsw.limit_in_bytes): set memory.max too");
                std::uint64_t total = (*l.memory_max == kInfinity || *l.swap_max == kInfinity ||
                                       *l.memory_max > kInfinity - *l.swap_max)
                                          ? kInfinity
                                          : *l.memory_max + *l.swap_max;
                write_file(memsw, v1_size_value(total));  // after memory.limit_in_bytes: memsw may never be below it
            });
        }
        if (l.memory_high) {
            with_context("applying memory.high", [&] {
                write_file(mem_ + "/memory.soft_limit_in_bytes", v1_size_value(*l.memory_high));
            });
            notes_.push_back(
                "memory.high: cgroup v1 has no throttling equivalent of MemoryHigh; it was written as "
                "memory.soft_limit_in_bytes, which only steers reclaim when the whole machine is short of memory");
        }
        if (l.tasks_max) {
            with_context("applying tasks_max", [&] {
                if (pids_.empty()) throw Error("the pids controller is not mounted (no v1 pids hierarchy)");
                write_file(pids_ + "/pids.max", *l.tasks_max == kInfinity ? "max" : std::to_string(*l.tasks_max));
            });
        }
        if (l.cpu_quota_percent) {
            with_context("applying cpu.quota", [&] {
                if (cpu_.empty()) throw Error("the cpu controller is not mounted (no v1 cpu hierarchy)");
                const CpuQuota q = cpu_quota_from_percent(*l.cpu_quota_percent);
                write_file(cpu_ + "/cpu.cfs_period_us", std::to_string(q.period_us));
                write_file(cpu_ + "/cpu.cfs_quota_us", std::to_string(q.quota_us));
            });
        }
        if (l.oom_group)
            notes_.push_back(
                "memory.oom_group: cgroup v1 has no memory.oom.group; corral emulates it by killing the whole tree "
                "as soon as it sees the box's first OOM kill (memory.oom_control), so other processes may run on "
                "for up to one sample interval");
    }

    // Until the child is in it, every cgroup of the box is empty, and on v1 a systemd that trims the
    // empty cgroups of a hierarchy (pruning its root slice when a unit stops) removes them: a cgroup
    // gone is made again, with the limits, once.
    bool enter(pid_t pid) override {
        std::vector<std::string> all = created_;
        if (!unified_.empty()) all.push_back(unified_);
        bool remade = false;
        for (const auto& d : all) {
            try {
                cg_enter(d, pid);
            } catch (const SysError& e) {
                if (e.code() != ENOENT || !owned_ || path_exists(d)) throw;
                cg_make(d);
                if (!remade) {
                    remade = true;
                    std::vector<std::string> kept = notes_;
                    apply_limits(limits_);
                    notes_ = std::move(kept);
                }
                cg_enter(d, pid);
                notes_.push_back(fmt::format("{} vanished before the suite entered it (a service manager that "
                                             "removes empty cgroups), so corral made it again",
                                             d));
            }
        }
        return true;
    }

    int populated_fd() const override { return events_ ? events_.get() : -1; }

    bool populated() override {
        if (events_) return cg_events_populated(events_.get());
        return !cg_tree_procs(mem_).empty();
    }

    std::vector<pid_t> pids() override { return cg_tree_procs(unified_.empty() ? mem_ : unified_); }

    int signal_all(int sig) override { return cg_signal_tree(unified_.empty() ? mem_ : unified_, sig); }
    std::string kill_method() const override { return kill_->method(); }
    KillRound kill_round() override { return kill_->round(); }

    BoxSample sample() override {
        BoxSample s;
        s.memory_bytes = read_cg_u64(mem_ + "/memory.usage_in_bytes").value_or(0);
        s.cpu_usage_us = cpu_usage_us();
        if (!unified_.empty()) {
            if (auto text = read_file_if_exists(unified_ + "/memory.pressure")) s.pressure = parse_pressure(*text);
        }
        return s;
    }

    BoxCounters counters() override {
        BoxCounters c;
        c.peak_bytes = read_cg_u64(mem_ + "/memory.max_usage_in_bytes");
        c.peak_source = "memory.max_usage_in_bytes";
        c.oom_kills = read_cg_keyed(mem_ + "/memory.oom_control")["oom_kill"];
        c.memory_failcnt = read_cg_u64(mem_ + "/memory.failcnt").value_or(0);
        if (!pids_.empty() && path_exists(pids_ + "/pids.events")) c.tasks_limit_hits = read_cg_keyed(pids_ + "/pids.events")["max"];
        if (!cpu_.empty()) {
            auto st = read_cg_keyed(cpu_ + "/cpu.stat");
            c.cpu_nr_throttled = st["nr_throttled"];
            c.cpu_throttled_us = st["throttled_time"] / 1000;
        }
        c.cpu_usage_us = cpu_usage_us();
        return c;
    }

    // The tree's CPU time: the unified hierarchy's cpu.stat where the box has a cgroup there, else
    // cpuacct.usage (nanoseconds).
    std::optional<std::uint64_t> cpu_usage_us() {
        if (!unified_.empty() && path_exists(unified_ + "/cpu.stat"))
            return read_cg_keyed(unified_ + "/cpu.stat")["usage_usec"];
        if (!cpuacct_.empty()) return read_cg_u64(cpuacct_ + "/cpuacct.usage").value_or(0) / 1000;
        return std::nullopt;
    }

    bool oom_group_native() const override { return false; }
    OomCounters oom_counters_now() override {
        // memory.memsw.failcnt (with swap accounting) counts the hits of memory.max + swap_max.
        return {read_cg_keyed(mem_ + "/memory.oom_control")["oom_kill"],
                read_cg_u64(mem_ + "/memory.failcnt").value_or(0) +
                    read_cg_u64(mem_ + "/memory.memsw.failcnt").value_or(0),
                "memory.failcnt"};
    }

    std::optional<MemorySplit> memory_split() override {
        // total_* include the box's descendants; like v2's anon/file, shmem (tmpfs) counts as file.
        auto st = read_cg_keyed(mem_ + "/memory.stat");
        return MemorySplit{st["total_rss"], st["total_cache"]};
    }

    std::vector<std::string> notes() const override { return notes_; }

    std::string cgroup_name() const override { return name_; }

    std::string describe() const override {
        std::string out;
        for (const auto& d : created_) out += (out.empty() ? "" : " ") + d;
        if (!unified_.empty()) out += " " + unified_;
        return out;
    }

private:
    // Removes every directory of the box; those that fail stay listed (and the first error is thrown).
    void remove_dirs() {
        std::vector<std::string> left;
        std::string first_error;
        for (const auto& d : to_remove_) {
            try {
                cg_remove_tree(d);
            } catch (const std::exception& e) {
                left.push_back(d);
                if (first_error.empty()) first_error = e.what();
            }
        }
        to_remove_ = std::move(left);
        if (!first_error.empty()) throw Error(first_error);
    }

    // rmdir of a cgroup whose last task is exiting can answer EBUSY for a moment: retry a while.
    std::optional<Duration> remove_dirs_or_retry() {
        try {
            remove_dirs();
            return std::nullopt;
        } catch (const SysError& e) {
            if (e.code() != EBUSY) throw;
            return std::chrono::milliseconds(10);
        } catch (const Error&) {
            return std::chrono::milliseconds(10);
        }
    }

    bool owned_ = true;
    std::string name_;
    std::vector<std::string> created_;
    std::string mem_, pids_, cpu_, cpuacct_, freezer_, unified_;
    std::vector<std::string> to_remove_;  // what this box made and has not removed yet, deepest last
    Limits limits_;
    UniqueFd events_;
    std::vector<std::string> notes_;
    std::optional<TreeKill> kill_;
};

class CgroupV1Backend : public Backend {
public:
    CgroupV1Backend(const CgroupLayout& layout, std::string run_id) : layout_(layout), run_id_(std::move(run_id)) {}

    std::string name() const override { return "cgroup-v1"; }

    std::unique_ptr<Box> create_box(const std::string& suite) override {
        return std::make_unique<CgroupV1Box>(layout_, box_dir_name(suite, run_id_));
    }

    StaleCleanup remove_stale(const LauncherGone& gone) override {
        BoxParents parents;
        for (const auto& h : layout_.v1) {
            parents.dirs.push_back(h.own_dir);
            if (h.controller == "memory") parents.memory = h.own_dir;
            if (h.controller == "freezer") parents.freezer = h.own_dir;
        }
        if (layout_.unified) {
            parents.dirs.push_back(layout_.unified->own_dir);
            parents.unified = layout_.unified->own_dir;
        }
        return cg_remove_stale_boxes(parents, run_id_, gone);
    }

    std::string launcher_memcg() const override {
        const Hierarchy* mem = layout_.find("memory");
        return mem ? kernel_cgroup_path(*mem) : "";
    }

private:
    CgroupLayout layout_;
    std::string run_id_;
};

}  // namespace

std::unique_ptr<Box> adopt_cgroup_v1_box(const CgroupLayout& layout, const std::string& cgroup_path) {
    return std::make_unique<CgroupV1Box>(layout, cgroup_path, true);
}

std::unique_ptr<Backend> make_cgroup_v1_backend(const CgroupLayout& layout, const std::string& run_id) {
    const Hierarchy* mem = layout.find("memory");
    if (!mem)
        throw Error(
            "no cgroup v1 memory hierarchy is mounted for this process (see /proc/self/cgroup and "
            "/proc/self/mountinfo): mount one, run in a container with the memory controller, or use the systemd "
            "backend");
    for (const auto& h : layout.v1) {
        if (h.mount.read_only || ::access(h.own_dir.c_str(), W_OK) < 0) {
            int err = h.mount.read_only ? EROFS : errno;
            throw SysError(SysError::Preformatted{},
                           fmt::format("cannot create cgroups in {} ({} controller): {}: {}", h.own_dir,
                                       h.controller, errno_text(err), cgroup_advice(err, h.own_dir)),
                           err);
        }
    }
    CgroupLayout usable = layout;
    if (usable.unified && (usable.unified->mount.read_only || ::access(usable.unified->own_dir.c_str(), W_OK) < 0)) {
        std::cerr << "corral: note: the unified cgroup hierarchy " << usable.unified->own_dir
                  << " is not writable: ending process trees with the freezer-and-signal loop instead of cgroup.kill\n";
        usable.unified.reset();
    }
    return std::make_unique<CgroupV1Backend>(usable, run_id);
}

}  // namespace corral
