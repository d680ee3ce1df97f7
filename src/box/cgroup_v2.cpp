#include "corral/box/cgroup_v2.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <iostream>
#include <sstream>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/box/cgroup_util.hpp"
#include "corral/profile/quantities.hpp"

namespace corral {

std::vector<std::string> parse_controller_list(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

namespace {

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::vector<std::string> controllers_of(const std::string& dir) {
    return parse_controller_list(read_file(dir + "/cgroup.controllers"));
}

std::string v2_size_value(std::uint64_t v) { return v == kInfinity ? "max" : std::to_string(v); }

// Writes "+ctrl" to dir/cgroup.subtree_control; returns errno (0 on success).
int enable_controller(const std::string& dir, const std::string& ctrl) {
    try {
        write_file(dir + "/cgroup.subtree_control", "+" + ctrl);
        return 0;
    } catch (const SysError& e) {
        return e.code() ? e.code() : EIO;
    }
}

class CgroupV2Box : public Box {
public:
    CgroupV2Box(const std::string& parent, const std::string& name, bool adopt = false)
        : dir_(parent + "/" + name), owned_(!adopt) {
        if (!adopt) cg_make(dir_);
        try {
            dirfd_ = UniqueFd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!dirfd_) throw_errno("open " + dir_);
            events_ = UniqueFd(::open((dir_ + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
            if (!events_) throw_errno("open " + dir_ + "/cgroup.events");
            controllers_ = controllers_of(dir_);
            if (!has(controllers_, "memory"))
                throw Error(fmt::format("the memory controller is not enabled for {} (its cgroup.controllers lists "
                                        "'{}'): corral cannot measure or limit memory there",
                                        dir_, fmt::join(controllers_, " ")));
            kill_.emplace(box_kill_target(dir_, "", ""));
        } catch (...) {
            try {
                if (owned_) remove_dir();
            } catch (const Error&) {
                // the error that brought us here is the one to report
            }
            throw;
        }
    }

    // Normally release() has removed the box; here (corral unwinding) nothing may wait.
    ~CgroupV2Box() override {
        if (!owned_ || dir_.empty()) return;
        try {
            if (populated()) kill_->round();
            remove_dir();
        } catch (const std::exception& e) {
            std::cerr << "corral: warning: removing the suite's cgroup: " << e.what() << "\n";
        }
    }

    std::optional<Duration> release() override {
        if (!owned_ || dir_.empty()) return std::nullopt;
        if (populated()) {  // not normally: the caller releases an empty box
            kill_->round();
            return std::chrono::milliseconds(10);
        }
        try {
            remove_dir();
            return std::nullopt;
        } catch (const SysError& e) {
            if (e.code() != EBUSY) throw;
            return std::chrono::milliseconds(10);  // the last task is still on its way out
        }
    }

    void apply_limits(const Limits& l) override {
        if (l.memory_max)
            with_context("applying memory.max", [&] { write_file(dir_ + "/memory.max", v2_size_value(*l.memory_max)); });
        if (l.memory_high)
            with_context("applying memory.high",
                         [&] { write_file(dir_ + "/memory.high", v2_size_value(*l.memory_high)); });
        if (l.swap_max) {
            with_context("applying swap_max", [&] {
                std::string f = dir_ + "/memory.swap.max";
                if (!path_exists(f))
                    throw Error(f + " does not exist: the kernel has no swap accounting (CONFIG_MEMCG_SWAP, "
                                    "swapaccount=0), so swap_max cannot be enforced");
                write_file(f, v2_size_value(*l.swap_max));
            });
        }
        if (l.tasks_max) {
            with_context("applying tasks_max", [&] {
                require("pids", "tasks_max");
                write_file(dir_ + "/pids.max", v2_size_value(*l.tasks_max));
            });
        }
        if (l.cpu_quota_percent) {
            with_context("applying cpu.quota", [&] {
                require("cpu", "cpu.quota");
                const CpuQuota q = cpu_quota_from_percent(*l.cpu_quota_percent);
                write_file(dir_ + "/cpu.max", fmt::format("{} {}", q.quota_us, q.period_us));
            });
        }
        if (l.oom_group)
            with_context("applying memory.oom_group", [&] { write_file(dir_ + "/memory.oom.group", "1"); });
    }

    bool enter(pid_t pid) override {
        cg_enter(dir_, pid);
        return true;
    }
    int cgroup_fd() const override { return dirfd_.get(); }
    int populated_fd() const override { return events_.get(); }
    bool populated() override { return cg_events_populated(events_.get()); }
    std::vector<pid_t> pids() override { return cg_tree_procs(dir_); }

    int signal_all(int sig) override { return cg_signal_tree(dir_, sig); }
    std::string kill_method() const override { return kill_->method(); }
    KillRound kill_round() override { return kill_->round(); }

    BoxSample sample() override {
        BoxSample s;
        s.memory_bytes = read_cg_u64(dir_ + "/memory.current").value_or(0);
        if (path_exists(dir_ + "/cpu.stat")) s.cpu_usage_us = read_cg_keyed(dir_ + "/cpu.stat")["usage_usec"];
        if (auto text = read_file_if_exists(dir_ + "/memory.pressure")) s.pressure = parse_pressure(*text);
        return s;
    }

    OomCounters oom_counters_now() override {
        auto ev = read_cg_keyed(dir_ + "/memory.events");
        return {ev["oom_kill"], ev["oom"], "memory.events oom"};
    }

    std::optional<MemorySplit> memory_split() override {
        auto st = read_cg_keyed(dir_ + "/memory.stat");
        return MemorySplit{st["anon"], st["file"]};
    }

    BoxCounters counters() override {
        BoxCounters c;
        if (has_peak()) {  // 5.19+
            c.peak_bytes = read_cg_u64(dir_ + "/memory.peak");
            c.peak_source = "memory.peak";
        }
        c.memory_events = read_cg_keyed(dir_ + "/memory.events");
        if (path_exists(dir_ + "/memory.events.local")) c.memory_events_local = read_cg_keyed(dir_ + "/memory.events.local");
        c.oom_kills = c.memory_events["oom_kill"];
        c.memory_failcnt = c.memory_events["max"];
        if (has(controllers_, "pids") && path_exists(dir_ + "/pids.events")) {
            c.pids_events = read_cg_keyed(dir_ + "/pids.events");
            c.tasks_limit_hits = c.pids_events["max"];
        }
        if (path_exists(dir_ + "/cpu.stat")) {
            c.cpu_stat = read_cg_keyed(dir_ + "/cpu.stat");
            c.cpu_usage_us = c.cpu_stat["usage_usec"];
            if (c.cpu_stat.count("throttled_usec")) {
                c.cpu_throttled_us = c.cpu_stat["throttled_usec"];
                c.cpu_nr_throttled = c.cpu_stat["nr_throttled"];
            }
        }
        return c;
    }

    std::vector<std::string> notes() const override {
        std::vector<std::string> out;
        if (!has_peak())
            out.push_back("memory.peak: not available (Linux 5.19+, or turned off by CORRAL_COMPAT), so the peak is the highest "
                          "memory.current sample and can miss a short spike");
        return out;
    }

    std::string describe() const override { return dir_; }
    std::string cgroup_name() const override { return dir_.substr(dir_.rfind('/') + 1); }

private:
    bool has_peak() const { return !compat_disabled("no-memory-peak") && path_exists(dir_ + "/memory.peak"); }

    void require(const std::string& controller, const std::string& limit) const {
        if (!has(controllers_, controller))
            throw Error(fmt::format("{} needs the {} controller, which is not enabled for {} (its "
                                    "cgroup.controllers lists '{}')",
                                    limit, controller, dir_, fmt::join(controllers_, " ")));
    }

    // Removes the box's cgroup (open fds do not hold a cgroup); a failure leaves it for another try.
    void remove_dir() {
        if (dir_.empty()) return;
        cg_remove_tree(dir_);
        dir_.clear();
        dirfd_.reset();
        events_.reset();
    }

    std::string dir_;
    bool owned_ = true;
    UniqueFd dirfd_, events_;
    std::vector<std::string> controllers_;
    std::optional<TreeKill> kill_;
};

class CgroupV2Backend : public Backend {
public:
    CgroupV2Backend(std::string parent, std::string kernel_path, std::string run_id, std::vector<std::string> notes)
        : parent_(std::move(parent)), kernel_path_(std::move(kernel_path)), run_id_(std::move(run_id)),
          notes_(std::move(notes)) {}

    std::string name() const override { return "cgroup-v2"; }
    std::unique_ptr<Box> create_box(const std::string& suite) override {
        return std::make_unique<CgroupV2Box>(parent_, box_dir_name(suite, run_id_));
    }
    StaleCleanup remove_stale(const LauncherGone& gone) override {
        BoxParents parents;
        parents.dirs = {parent_};
        parents.unified = parent_;
        return cg_remove_stale_boxes(parents, run_id_, gone);
    }
    std::string launcher_memcg() const override { return kernel_path_; }
    std::vector<std::string> setup_notes() const override { return notes_; }

private:
    std::string parent_, kernel_path_, run_id_;
    std::vector<std::string> notes_;
};

// Makes `ctrl` available in dir's cgroup.controllers by enabling it in the subtree_control of
// every ancestor below the mount that lacks it. Returns false when no ancestor has it at all.
bool enable_along_the_way(const std::string& mountpoint, const std::string& dir, const std::string& ctrl,
                          std::vector<std::string>& notes) {
    std::vector<std::string> chain;  // dir's ancestors, nearest first, down to the mount point
    for (std::string p = dir; p.size() > mountpoint.size();) {
        p = p.substr(0, p.rfind('/'));
        chain.push_back(p);
    }
    // The nearest ancestor that has the controller; from there down, enable it level by level.
    std::size_t top = 0;
    while (top < chain.size() && !has(controllers_of(chain[top]), ctrl)) ++top;
    if (top == chain.size()) return false;
    for (std::size_t i = top + 1; i-- > 0;) {
        const std::string& c = chain[i];
        if (has(parse_controller_list(read_file(c + "/cgroup.subtree_control")), ctrl)) continue;
        if (int err = enable_controller(c, ctrl); err != 0) {
            std::string why = err == EBUSY ? fmt::format(": it holds processes of its own ({}), and a cgroup with "
                                                         "processes cannot hand controllers to its children",
                                                         describe_procs(read_cg_procs(c)))
                                           : "";
            throw SysError(SysError::Preformatted{},
                           fmt::format("enabling the {} controller on the way to {}: write +{} to "
                                       "{}/cgroup.subtree_control: {}{}",
                                       ctrl, dir, ctrl, c, errno_text(err), why),
                           err);
        }
        notes.push_back(fmt::format("enabled the {} controller in {}/cgroup.subtree_control", ctrl, c));
    }
    return true;
}

}  // namespace

std::unique_ptr<Box> adopt_cgroup_v2_box(const std::string& dir) {
    auto slash = dir.rfind('/');
    return std::make_unique<CgroupV2Box>(dir.substr(0, slash), dir.substr(slash + 1), true);
}

std::unique_ptr<Backend> make_cgroup_v2_backend(const CgroupLayout& layout, const std::string& run_id) {
    const Hierarchy& h = *layout.unified;
    const std::string parent = h.own_dir;
    if (h.mount.read_only || ::access(parent.c_str(), W_OK) < 0) {
        int err = h.mount.read_only ? EROFS : errno;
        throw SysError(SysError::Preformatted{},
                       fmt::format("cannot create cgroups in {}: {}: {}", parent, errno_text(err),
                                   cgroup_advice(err, parent)),
                       err);
    }
    std::vector<std::string> notes;
    std::vector<std::string> available = controllers_of(parent);
    for (const auto& c : kV2Controllers) {
        if (has(available, c)) continue;
        if (!enable_along_the_way(h.mount.mountpoint, parent, c, notes) && c == "memory")
            throw Error(fmt::format(
                "the memory controller is not available to {} (cgroup.controllers lists '{}' and no ancestor "
                "has it): corral needs it to limit and measure memory; delegate it (systemd: Delegate=yes, or "
                "DelegateControllers=memory pids cpu)",
                parent, fmt::join(available, " ")));
    }
    available = controllers_of(parent);
    std::vector<std::string> enabled = parse_controller_list(read_file(parent + "/cgroup.subtree_control"));
    std::vector<std::string> wanted;
    for (const auto& c : kV2Controllers)
        if (has(available, c) && !has(enabled, c)) wanted.push_back(c);

    auto enable_all = [&]() -> int {
        for (const auto& c : wanted)
            if (int err = enable_controller(parent, c); err != 0) return err;
        return 0;
    };
    int err = wanted.empty() ? 0 : enable_all();
    if (err == EBUSY) {
        // "No internal processes": a non-root cgroup with processes cannot hand controllers down.
        // If the only process is corral itself, it moves into a leaf of its own.
        const pid_t self = ::getpid();
        std::vector<pid_t> others;
        for (pid_t p : read_cg_procs(parent))
            if (p != self) others.push_back(p);
        if (!others.empty())
            throw Error(fmt::format(
                "cannot enable {} in {}/cgroup.subtree_control: the cgroup holds other processes besides corral "
                "({}), and a cgroup with processes cannot hand controllers to its children. Start corral in a "
                "cgroup of its own (e.g. `systemd-run --scope -p Delegate=yes corral …`), or move those "
                "processes into a leaf cgroup first",
                fmt::join(wanted, " "), parent, describe_procs(others)));
        const std::string leaf = parent + "/corral-launcher";
        if (::mkdir(leaf.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("mkdir " + leaf);
        with_context("moving corral into its leaf cgroup", [&] { cg_enter(leaf, self); });
        notes.push_back(fmt::format(
            "moved corral (pid {}) into the leaf cgroup {}: its cgroup {} held only corral, and a cgroup with "
            "processes cannot hand controllers to its children",
            self, leaf, parent));
        err = enable_all();
    }
    if (err != 0)
        throw SysError(SysError::Preformatted{},
                       fmt::format("enabling {} in {}/cgroup.subtree_control: {}", fmt::join(wanted, " "), parent,
                                   errno_text(err)),
                       err);
    for (const auto& c : wanted) notes.push_back(fmt::format("enabled the {} controller in {}/cgroup.subtree_control", c, parent));
    return std::make_unique<CgroupV2Backend>(parent, kernel_cgroup_path(h), run_id, std::move(notes));
}

}  // namespace corral
