#include "corral/box/systemd_scope.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <iostream>
#include <map>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/box/cgroup_util.hpp"
#include "corral/box/cgroup_v1.hpp"
#include "corral/box/cgroup_v2.hpp"
#include "corral/box/keeper.hpp"
#include "corral/box/systemd_manager.hpp"
#include "corral/profile/quantities.hpp"

namespace corral {

std::string scope_unit_name(const std::string& suite, const std::string& run_id) {
    return box_dir_name(suite, run_id) + ".scope";
}

std::optional<std::string> unknown_property_in(const std::string& error_name, const std::string& message) {
    // systemd: "Cannot set property OOMPolicy, or unknown property." (PropertyReadOnly);
    // newer: "Unknown assignment: …"/UnknownProperty naming the property.
    static const std::string prefix = "Cannot set property ";
    if (auto at = message.find(prefix); at != std::string::npos) {
        auto start = at + prefix.size();
        auto end = message.find_first_of(", ", start);
        return message.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    if (error_name == "org.freedesktop.DBus.Error.UnknownProperty") {
        for (const char* p : {"PIDFDs", "OOMPolicy"})
            if (message.find(p) != std::string::npos) return std::string(p);
    }
    return std::nullopt;
}

namespace {

std::string limit_text(std::uint64_t v) { return v == kInfinity ? "infinity" : format_bytes(v); }

class ScopeBox : public Box {
public:
    ScopeBox(std::shared_ptr<Manager> mgr, const CgroupLayout& layout, std::string unit, std::string slice,
             std::string description)
        : mgr_(std::move(mgr)), layout_(layout), unit_(std::move(unit)), slice_(std::move(slice)),
          description_(std::move(description)) {}

    // Normally release() has let the scope go. Here (corral unwinding) nothing may wait: kill what is
    // there and drop the reference; systemd unloads the scope once it is empty.
    ~ScopeBox() override {
        if (!started_ || released_) return;
        try {
            mgr_->kill_unit(unit_, SIGKILL);
        } catch (const std::exception& e) {
            std::cerr << "corral: warning: ending scope " << unit_ << ": " << e.what() << "\n";
        }
        keeper_.reset();
        try {
            mgr_->unref_unit(unit_);
        } catch (const std::exception& e) {
            std::cerr << "corral: warning: letting scope " << unit_ << " go: " << e.what() << "\n";
        }
    }

    void apply_limits(const Limits& l) override { limits_ = l; }

    // StartTransientUnit; the scope is there once the manager's job is done (enter_done()).
    bool enter(pid_t pid) override {
        pid_ = pid;
        keeper_.emplace();
        job_ = start(pid);
        started_ = true;
        enter_since_ = std::chrono::steady_clock::now();
        return enter_done();
    }

    bool enter_done() override {
        mgr_->dispatch();  // JobRemoved may have come with the reply
        auto result = mgr_->job_result(job_);
        if (!result) {
            if (std::chrono::steady_clock::now() - enter_since_ > kJobLimit)
                throw Error(fmt::format("starting scope {}: no JobRemoved signal for job {} within {}", unit_, job_,
                                        format_duration(kJobLimit)));
            return false;
        }
        if (*result != "done")
            throw Error(fmt::format("starting scope {}: the manager's job ended with result '{}'", unit_, *result));
        std::string path = mgr_->unit_path(unit_);
        if (path.empty()) throw Error("scope " + unit_ + " vanished right after it started");
        control_group_ = mgr_->unit_string(path, "org.freedesktop.systemd1.Scope", "ControlGroup");
        verify_limits();  // first: a limit that is not enforced is the clearest thing to report
        try {
            if (layout_.mode == CgroupMode::Unified) {
                auto dir = map_cgroup_path(layout_.unified->mount, control_group_);
                if (!dir) throw Error("cannot map the scope's ControlGroup " + control_group_ + " to a directory");
                inner_ = adopt_cgroup_v2_box(*dir);
            } else {
                inner_ = adopt_cgroup_v1_box(layout_, control_group_);
            }
        } catch (const Error& e) {
            throw Error(fmt::format("the {} manager (systemd {}) gave scope {} no memory cgroup corral could measure "
                                    "({}): the memory controller is not delegated to it",
                                    mgr_->kind(), mgr_->version(), unit_, e.what()));
        }
        // The suite goes into a "payload" child of the scope in the unified hierarchy (no controllers
        // are enabled below the scope, so it may hold the keeper beside it): its cgroup.events says
        // when the suite's tree is gone while the keeper holds the scope open.
        if (layout_.unified) {
            if (auto dir = map_cgroup_path(layout_.unified->mount, control_group_)) {
                payload_ = *dir + "/payload";
                with_context("making the scope's payload cgroup", [&] {
                    if (::mkdir(payload_.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("mkdir " + payload_);
                    cg_enter(payload_, pid_);
                    events_ = UniqueFd(::open((payload_ + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
                    if (!events_) throw_errno("open " + payload_ + "/cgroup.events");
                });
            }
        }
        return true;
    }

    // Empty the scope (the suite's tree is gone already, normally), let the keeper go so that systemd
    // stops the scope, drop our reference, and wait for the manager to unload it (UnitRemoved).
    std::optional<Duration> release() override {
        using namespace std::chrono_literals;
        if (!started_ || released_) return std::nullopt;
        const auto now = std::chrono::steady_clock::now();
        switch (release_step_) {
            case ReleaseStep::Empty:
                // Without payload or inner box (its limits were refused) the held child is still in
                // the scope: kill whatever is there.
                if ((!events_ && !inner_) || still_populated()) {
                    if (release_since_ == std::chrono::steady_clock::time_point{}) {
                        release_since_ = now;
                        mgr_->kill_unit(unit_, SIGKILL);
                    }
                    if (now - release_since_ < kReleaseLimit && still_populated()) return 10ms;
                }
                if (keeper_) keeper_->kill();  // the scope is empty now: systemd stops it
                release_step_ = ReleaseStep::Keeper;
                [[fallthrough]];
            case ReleaseStep::Keeper:
                if (keeper_ && !keeper_->reaped()) return 2ms;
                keeper_.reset();
                inner_.reset();
                events_.reset();
                mgr_->unref_unit(unit_);
                release_step_ = ReleaseStep::Unload;
                release_since_ = now;
                [[fallthrough]];
            case ReleaseStep::Unload:
                // CollectMode=inactive-or-failed: an empty, unreferenced scope is unloaded.
                mgr_->dispatch();
                if (mgr_->unit_removed(unit_) || mgr_->unit_path(unit_).empty()) {
                    released_ = true;
                    return std::nullopt;
                }
                if (now - release_since_ > kReleaseLimit) {
                    released_ = true;
                    throw Error(fmt::format("scope {} was still loaded {} after corral let it go", unit_,
                                            format_duration(kReleaseLimit)));
                }
                return 50ms;  // UnitRemoved (Backend::dispatch) usually comes first
        }
        return std::nullopt;
    }

    int populated_fd() const override { return events_ ? events_.get() : -1; }

    // Whether any process of the suite (not the keeper) is left.
    bool still_populated() {
        try {
            if (events_) return cg_events_populated(events_.get());
            return !pids().empty();
        } catch (const Error&) {
            return false;  // the cgroup is gone
        }
    }

    // Keeps the latest counters that could be read (for when the scope is gone at the end).
    void snapshot() {
        if (!inner_) return;
        try {
            last_ = inner_->counters();
            last_at_ = std::chrono::steady_clock::now();
        } catch (const Error&) {
        }
    }

    bool populated() override { return still_populated(); }
    std::vector<pid_t> pids() override {
        std::vector<pid_t> out = !payload_.empty() ? cg_tree_procs(payload_)
                                 : inner_         ? inner_->pids()
                                                  : std::vector<pid_t>{};
        if (keeper_) std::erase(out, keeper_->pid());
        return out;
    }

    int signal_all(int sig) override {
        int n = static_cast<int>(pids().size());
        try {
            mgr_->kill_unit(unit_, sig);  // the keeper ignores SIGTERM
        } catch (const Error& e) {
            // The manager did not take it (the bus is gone, systemd restarting): the suite's tree is
            // in cgroups corral can reach itself.
            if (payload_.empty() && !inner_) throw;
            n = !payload_.empty() ? cg_signal_tree(payload_, sig) : inner_->signal_all(sig);
            const std::string note = fmt::format("KillUnit failed ({}): corral signalled the scope's processes itself", e.what());
            if (std::find(notes_.begin(), notes_.end(), note) == notes_.end()) notes_.push_back(note);
        }
        return n;
    }
    std::string kill_method() const override { return "KillUnit"; }
    KillRound kill_round() override {
        snapshot();  // SIGKILL takes the keeper too: the scope may be gone before counters() runs
        KillRound r;
        r.signalled = signal_all(SIGKILL);
        r.again = std::chrono::milliseconds(std::min(1000, 100 << std::min(kill_rounds_++, 3)));
        return r;
    }

    BoxSample sample() override {
        BoxSample out = inner_ ? inner_->sample() : BoxSample{};
        snapshot();
        return out;
    }
    std::optional<MemorySplit> memory_split() override { return inner_ ? inner_->memory_split() : std::nullopt; }
    bool oom_group_native() const override { return inner_ && inner_->oom_group_native(); }
    OomCounters oom_counters_now() override { return inner_ ? inner_->oom_counters_now() : OomCounters{}; }

    BoxCounters counters() override {
        BoxCounters c;
        try {
            if (inner_) c = inner_->counters();
        } catch (const Error& e) {
            if (!last_) throw;
            c = *last_;
            double ago = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_at_).count();
            notes_.push_back(fmt::format("the scope's counters are from {} before the end: systemd removed the "
                                         "scope's cgroup as soon as it was empty ({})",
                                         format_seconds(ago), e.what()));
        }
        nlohmann::json view = {{"unit", unit_},
                               {"slice", slice_},
                               {"manager", mgr_->kind()},
                               {"version", mgr_->version()},
                               {"control_group", control_group_},
                               {"cgroup_mode", cgroup_mode_name(layout_.mode)},
                               {"result", nullptr},
                               {"active_state", nullptr}};
        try {
            if (std::string path = mgr_->unit_path(unit_); !path.empty()) {
                view["result"] = mgr_->unit_string(path, "org.freedesktop.systemd1.Scope", "Result");
                view["active_state"] = mgr_->unit_string(path, "org.freedesktop.systemd1.Unit", "ActiveState");
            }
        } catch (const Error&) {
        }
        c.manager_view = std::move(view);
        return c;
    }

    std::vector<std::string> notes() const override {
        std::vector<std::string> out = notes_;
        if (inner_)
            for (auto& n : inner_->notes()) out.push_back(n);
        return out;
    }
    std::string cgroup_name() const override { return unit_; }
    std::string entry_method() const override { return entry_; }
    std::string describe() const override {
        return control_group_.empty() ? unit_ : unit_ + " (" + control_group_ + ")";
    }

private:
    // StartTransientUnit; drops properties this systemd does not know (PIDFDs: 253+, OOMPolicy for
    // scopes: 253+) and tries again. Returns the job path.
    std::string start(pid_t pid) {
        bool use_pidfd = true, use_oom_policy = true;
        UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (!pidfd) use_pidfd = false;
        for (int attempt = 0; attempt < 3; ++attempt) {
            BusError err;
            int r = 0;
            auto reply = mgr_->call(
                "StartTransientUnit",
                [&](sd_bus_message* m) { return append_start(m, pid, pidfd.get(), use_pidfd, use_oom_policy); }, &err, &r);
            if (reply) {
                const char* job = nullptr;
                check_bus(sd_bus_message_read(reply.get(), "o", &job), "reading the StartTransientUnit reply");
                entry_ = use_pidfd ? "StartTransientUnit PIDFDs" : "StartTransientUnit PIDs";
                if (!use_oom_policy)
                    notes_.push_back(fmt::format("systemd {} has no OOMPolicy= for scopes (253+): {}", mgr_->version(),
                                                 limits_.oom_group ? "corral sees to memory.oom_group itself"
                                                                   : "one OOM-killed process does not stop the scope anyway"));
                return job;
            }
            auto prop = unknown_property_in(err.name(), err.message());
            if (prop == "PIDFDs" && use_pidfd) {
                use_pidfd = false;
                continue;
            }
            if (prop == "OOMPolicy" && use_oom_policy) {
                use_oom_policy = false;
                continue;
            }
            throw Error(fmt::format("StartTransientUnit {} over the {} bus: {}", unit_, mgr_->kind(), err.describe(r)));
        }
        throw Error("StartTransientUnit " + unit_ + ": the manager refused every property set");
    }

    int append_start(sd_bus_message* m, pid_t pid, int pidfd, bool use_pidfd, bool use_oom_policy) {
        int r = sd_bus_message_append(m, "ss", unit_.c_str(), "fail");
        if (r < 0) return r;
        if ((r = sd_bus_message_open_container(m, 'a', "(sv)")) < 0) return r;
        auto s = [&](const char* k, const std::string& v) { return sd_bus_message_append(m, "(sv)", k, "s", v.c_str()); };
        auto b = [&](const char* k, bool v) { return sd_bus_message_append(m, "(sv)", k, "b", static_cast<int>(v)); };
        auto t = [&](const char* k, std::uint64_t v) { return sd_bus_message_append(m, "(sv)", k, "t", v); };
        const Limits& l = limits_;
        int rs[] = {
            s("Description", description_),
            s("Slice", slice_),
            use_pidfd ? sd_bus_message_append(m, "(sv)", "PIDFDs", "ah", 2, pidfd, keeper_->pidfd())
                      : sd_bus_message_append(m, "(sv)", "PIDs", "au", 2, static_cast<std::uint32_t>(pid),
                                              static_cast<std::uint32_t>(keeper_->pid())),
            b("MemoryAccounting", true),
            b("TasksAccounting", true),
            b("CPUAccounting", true),
            l.memory_max ? t("MemoryMax", *l.memory_max) : 0,
            l.memory_high ? t("MemoryHigh", *l.memory_high) : 0,
            l.swap_max ? t("MemorySwapMax", *l.swap_max) : 0,
            l.tasks_max ? t("TasksMax", *l.tasks_max) : 0,
            l.cpu_quota_percent ? t("CPUQuotaPerSecUSec", cpu_quota_from_percent(*l.cpu_quota_percent).per_sec_usec()) : 0,
            b("Delegate", true),  // corral makes the "payload" cgroup below the scope
            s("CollectMode", "inactive-or-failed"),
            b("AddRef", true),
            use_oom_policy ? s("OOMPolicy", l.oom_group ? "kill" : "continue") : 0,
        };
        for (int x : rs)
            if (x < 0) return x;
        if ((r = sd_bus_message_close_container(m)) < 0) return r;
        return sd_bus_message_append(m, "a(sa(sv))", 0);
    }

    // The manager accepted the limits; the kernel must show them (a user manager without the
    // memory controller delegated accepts MemoryMax and ignores it).
    void verify_limits() {
        const Limits& l = limits_;
        const bool v2 = layout_.mode == CgroupMode::Unified;
        auto dir_of = [&](const char* controller) -> std::string {
            const Hierarchy* h = v2 ? &*layout_.unified : layout_.find(controller);
            if (!h) return "";
            auto d = map_cgroup_path(h->mount, control_group_);
            return d ? *d : "";
        };
        std::vector<std::string> missing;
        auto expect = [&](const std::string& property, const std::string& shown, const std::string& dir,
                          const char* file, std::optional<std::uint64_t> want, std::uint64_t slack) {
            std::string path = dir + "/" + file;
            auto text = dir.empty() ? std::nullopt : read_file_if_exists(path);
            if (!text) {
                missing.push_back(fmt::format("{}={}: {} does not exist (the controller is not enabled for the scope)",
                                              property, shown, dir.empty() ? std::string(file) : path));
                return;
            }
            std::optional<std::uint64_t> got;
            if (text->rfind("max", 0) != 0) {
                try {
                    got = std::stoull(*text);
                } catch (const std::exception&) {
                }
            }
            bool want_inf = !want || *want == kInfinity;
            bool got_inf = !got || *got >= (1ULL << 62);
            bool ok = want_inf ? got_inf : (got && *got <= *want && *want - *got <= slack);
            if (!ok)
                missing.push_back(fmt::format("{}={}: {} reads '{}'", property, shown, path,
                                              text->substr(0, text->find('\n'))));
        };
        const std::uint64_t page = 4096;
        if (l.memory_max)
            expect("MemoryMax", limit_text(*l.memory_max), dir_of("memory"), v2 ? "memory.max" : "memory.limit_in_bytes",
                   *l.memory_max, page);
        if (l.memory_high) {
            if (v2)
                expect("MemoryHigh", limit_text(*l.memory_high), dir_of("memory"), "memory.high", *l.memory_high, page);
            else
                notes_.push_back("memory.high: systemd has no MemoryHigh= on cgroup v1 (it needs the unified "
                                 "hierarchy), so nothing throttles the suite; only memory.max is a limit here");
        }
        if (l.swap_max) {
            if (v2)
                expect("MemorySwapMax", limit_text(*l.swap_max), dir_of("memory"), "memory.swap.max", *l.swap_max, page);
            else
                missing.push_back(fmt::format("MemorySwapMax={}: systemd supports it only on the unified hierarchy; "
                                              "this machine's memory controller is cgroup v1",
                                              limit_text(*l.swap_max)));
        }
        if (l.tasks_max)
            expect("TasksMax", l.tasks_max == kInfinity ? "infinity" : std::to_string(*l.tasks_max), dir_of("pids"),
                   "pids.max", *l.tasks_max, 0);
        if (l.cpu_quota_percent) {
            std::string dir = dir_of("cpu");
            std::string shown = fmt::format("{}%", *l.cpu_quota_percent);
            if (v2) {
                auto text = dir.empty() ? std::nullopt : read_file_if_exists(dir + "/cpu.max");
                if (!text || text->rfind("max", 0) == 0)
                    missing.push_back(fmt::format("CPUQuota={}: {}/cpu.max reads '{}'", shown, dir,
                                                  text ? text->substr(0, text->find('\n')) : "(missing)"));
            } else {
                auto text = dir.empty() ? std::nullopt : read_file_if_exists(dir + "/cpu.cfs_quota_us");
                if (!text || text->rfind("-1", 0) == 0)
                    missing.push_back(fmt::format("CPUQuota={}: {}/cpu.cfs_quota_us reads '{}'", shown, dir,
                                                  text ? text->substr(0, text->find('\n')) : "(missing)"));
            }
        }
        if (l.oom_group && v2 && std::find_if(notes_.begin(), notes_.end(), [](const std::string& n) {
                                     return n.find("OOMPolicy") != std::string::npos;
                                 }) != notes_.end())
            with_context("applying memory.oom_group", [&] { write_file(dir_of("memory") + "/memory.oom.group", "1"); });
        if (!missing.empty()) {
            std::string all;
            for (const auto& m : missing) all += (all.empty() ? "" : "; ") + m;
            throw Error(fmt::format("the {} manager (systemd {}) accepted the scope's limits but does not enforce {}: "
                                    "{}",
                                    mgr_->kind(), mgr_->version(), missing.size() == 1 ? "this one" : "these", all));
        }
    }

    static constexpr Duration kJobLimit = std::chrono::seconds(15);     // for the start job
    static constexpr Duration kReleaseLimit = std::chrono::seconds(5);  // to empty, and to unload
    enum class ReleaseStep { Empty, Keeper, Unload };

    std::shared_ptr<Manager> mgr_;
    CgroupLayout layout_;
    std::string unit_, slice_, description_;
    Limits limits_;
    pid_t pid_ = -1;
    std::string job_;
    std::chrono::steady_clock::time_point enter_since_, release_since_;
    ReleaseStep release_step_ = ReleaseStep::Empty;
    int kill_rounds_ = 0;
    bool started_ = false, released_ = false;
    std::string control_group_;
    std::unique_ptr<Box> inner_;
    std::vector<std::string> notes_;
    std::optional<BoxCounters> last_;
    std::optional<Keeper> keeper_;
    std::string payload_;
    UniqueFd events_;
    std::chrono::steady_clock::time_point last_at_;
    std::string entry_ = "StartTransientUnit PIDs";
};

class ScopeBackend : public Backend {
public:
    ScopeBackend(std::shared_ptr<Manager> mgr, CgroupLayout layout, std::string run_id, ScopeSettings settings)
        : mgr_(std::move(mgr)), layout_(std::move(layout)), run_id_(std::move(run_id)), settings_(std::move(settings)) {}

    std::string name() const override { return "systemd-scope"; }

    std::unique_ptr<Box> create_box(const std::string& suite) override {
        return std::make_unique<ScopeBox>(mgr_, layout_, scope_unit_name(suite, run_id_), settings_.slice,
                                          "corral suite " + suite);
    }

    // Scopes of launchers that are gone: AddRef dies with the launcher's bus connection, but a
    // scope that still has processes stays active.
    StaleCleanup remove_stale(const LauncherGone& gone) override {
        StaleCleanup out;
        for (const auto& unit : mgr_->list_units("corral-*.scope")) {
            std::string base = unit.substr(0, unit.size() - std::string(".scope").size());
            std::string id = run_id_of_box(base);
            if (id.empty() || id == run_id_ || !gone(id)) continue;
            try {
                mgr_->kill_unit(unit, SIGKILL);
            } catch (const Error& e) {
                if (!mgr_->unit_path(unit).empty()) {  // gone meanwhile (another launcher): as good
                    out.messages.push_back(fmt::format("stale scope {} could not be killed yet ({}); a later run tries again", unit, e.what()));
                    out.remaining.insert(id);
                    continue;
                }
            }
            if (!mgr_->wait_unloaded(unit, std::chrono::seconds(5))) {
                out.messages.push_back(fmt::format(
                    "stale scope {} of a launcher that is gone was still loaded 5s after SIGKILL; a later run tries again", unit));
                out.remaining.insert(id);
                continue;
            }
            out.messages.push_back(fmt::format("killed stale scope {} left by a launcher that is gone", unit));
            out.cleared.insert(id);
        }
        return out;
    }

    std::vector<std::string> setup_notes() const override {
        return {fmt::format("systemd scopes in {} via the {} manager (systemd {})", settings_.slice, mgr_->kind(),
                            mgr_->version())};
    }

    int event_fd() const override { return mgr_->fd(); }
    void dispatch() override { mgr_->dispatch(); }

private:
    std::shared_ptr<Manager> mgr_;
    CgroupLayout layout_;
    std::string run_id_;
    ScopeSettings settings_;
};

}  // namespace

std::unique_ptr<Backend> make_systemd_scope_backend(const CgroupLayout& layout, const std::string& run_id,
                                                    const ScopeSettings& settings) {
    auto mgr = std::make_shared<Manager>(settings.bus);
    return std::make_unique<ScopeBackend>(std::move(mgr), layout, run_id, settings);
}

}  // namespace corral
