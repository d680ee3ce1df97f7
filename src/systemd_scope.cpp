#include "corral/systemd_scope.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <iostream>
#include <map>
#include <thread>

#include "corral/cgroup_util.hpp"
#include "corral/cgroup_v1.hpp"
#include "corral/cgroup_v2.hpp"
#include "corral/error.hpp"
#include "corral/fd.hpp"
#include "corral/run_lock.hpp"
#include "corral/units.hpp"

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

std::uint64_t cpu_quota_per_sec_usec(double percent) {
    return static_cast<std::uint64_t>(std::llround(percent * 10000.0));
}

namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr std::uint64_t kBusTimeoutUs = 15'000'000;

struct BusUnref {
    void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct MsgUnref {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
struct SlotUnref {
    void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using BusPtr = std::unique_ptr<sd_bus, BusUnref>;
using MsgPtr = std::unique_ptr<sd_bus_message, MsgUnref>;
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

// sd_bus_error with RAII.
struct BusError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
    ~BusError() { sd_bus_error_free(&e); }
    bool set() const { return sd_bus_error_is_set(&e); }
    std::string name() const { return e.name ? e.name : ""; }
    std::string message() const { return e.message ? e.message : ""; }
    // "org.freedesktop.systemd1.UnitExists: Unit x.scope already exists." or errno text.
    std::string describe(int r) const { return set() ? name() + ": " + message() : errno_text(-r); }
};

void check(int r, const std::string& what) {
    if (r < 0) throw SysError(what, -r);
}

// One connection to the service manager, shared by the backend and its boxes.
class Manager {
public:
    Manager(BusChoice choice) {
        bool system = choice == BusChoice::System || (choice == BusChoice::Auto && ::geteuid() == 0);
        kind_ = system ? "system" : "user";
        sd_bus* b = nullptr;
        int r = system ? sd_bus_open_system(&b) : sd_bus_open_user(&b);
        if (r < 0)
            throw SysError(SysError::Preformatted{},
                           fmt::format("connecting to the {} bus: {}", kind_, errno_text(-r)), -r);
        bus_.reset(b);
        // Is a manager there at all? (a bus without systemd answers ServiceUnknown)
        BusError err;
        char* version = nullptr;
        r = sd_bus_get_property_string(bus_.get(), kDest, kPath, kManager, "Version", &err.e, &version);
        if (r < 0)
            throw Error(fmt::format("no systemd manager answers on the {} bus: {}", kind_, err.describe(r)));
        version_ = version;
        std::free(version);
        // JobRemoved is only sent to subscribers.
        sd_bus_slot* slot = nullptr;
        check(sd_bus_match_signal(bus_.get(), &slot, kDest, kPath, kManager, "JobRemoved", &Manager::on_job_removed, this),
              "sd_bus_match_signal JobRemoved");
        slot_.reset(slot);
        call("Subscribe", [](sd_bus_message*) { return 0; });
    }

    sd_bus* bus() const { return bus_.get(); }
    const std::string& kind() const { return kind_; }
    const std::string& version() const { return version_; }

    // Calls a Manager method; `append` adds the arguments. Returns the reply; throws Error with
    // the bus error name and message.
    template <class Append>
    MsgPtr call(const char* method, Append&& append, BusError* err_out = nullptr, int* r_out = nullptr) {
        sd_bus_message* m = nullptr;
        check(sd_bus_message_new_method_call(bus_.get(), &m, kDest, kPath, kManager, method),
              std::string("sd_bus_message_new_method_call ") + method);
        MsgPtr msg(m);
        check(append(msg.get()), std::string("building the ") + method + " call");
        BusError local;
        BusError& err = err_out ? *err_out : local;
        sd_bus_message* reply = nullptr;
        int r = sd_bus_call(bus_.get(), msg.get(), kBusTimeoutUs, &err.e, &reply);
        if (r_out) *r_out = r;
        if (r < 0) {
            if (err_out) return nullptr;
            throw Error(fmt::format("{} over the {} bus: {}", method, kind_, err.describe(r)));
        }
        return MsgPtr(reply);
    }

    // Waits for the JobRemoved signal of `job`; returns its result ("done", "failed", …).
    std::string wait_job(const std::string& job, std::chrono::milliseconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (auto it = jobs_done_.find(job); it != jobs_done_.end()) {
                std::string result = it->second;
                jobs_done_.erase(it);
                return result;
            }
            int r = sd_bus_process(bus_.get(), nullptr);
            check(r, "sd_bus_process");
            if (r > 0) continue;
            auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) throw Error("no JobRemoved signal for " + job + " within " + format_duration(limit));
            r = sd_bus_wait(bus_.get(), static_cast<std::uint64_t>(left.count()));
            if (r < 0 && r != -EINTR) check(r, "sd_bus_wait");
        }
    }

    // The unit's object path, or "" when the manager has no such unit loaded.
    std::string unit_path(const std::string& unit) {
        BusError err;
        int r = 0;
        auto reply = call("GetUnit", [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", unit.c_str()); }, &err, &r);
        if (!reply) {
            if (err.name() == "org.freedesktop.systemd1.NoSuchUnit") return "";
            throw Error(fmt::format("GetUnit {}: {}", unit, err.describe(r)));
        }
        const char* path = nullptr;
        check(sd_bus_message_read(reply.get(), "o", &path), "reading the GetUnit reply");
        return path;
    }

    std::string unit_string(const std::string& path, const char* iface, const char* prop) {
        BusError err;
        char* v = nullptr;
        int r = sd_bus_get_property_string(bus_.get(), kDest, path.c_str(), iface, prop, &err.e, &v);
        if (r < 0) throw Error(fmt::format("reading {} of {}: {}", prop, path, err.describe(r)));
        std::string out = v;
        std::free(v);
        return out;
    }

    void kill_unit(const std::string& unit, int sig) {
        call("KillUnit", [&](sd_bus_message* m) { return sd_bus_message_append(m, "ssi", unit.c_str(), "all", sig); });
    }

    // Drops the reference AddRef took; ignores a unit that is gone already.
    void unref_unit(const std::string& unit) {
        BusError err;
        call("UnrefUnit", [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", unit.c_str()); }, &err);
    }

    // Names of loaded units matching a glob ("corral-*.scope").
    std::vector<std::string> list_units(const std::string& pattern) {
        auto reply = call("ListUnitsByPatterns", [&](sd_bus_message* m) {
            int r = sd_bus_message_append(m, "as", 0);
            if (r < 0) return r;
            return sd_bus_message_append(m, "as", 1, pattern.c_str());
        });
        std::vector<std::string> out;
        check(sd_bus_message_enter_container(reply.get(), 'a', "(ssssssouso)"), "reading ListUnitsByPatterns");
        const char* name = nullptr;
        while (sd_bus_message_read(reply.get(), "(ssssssouso)", &name, nullptr, nullptr, nullptr, nullptr, nullptr,
                                   nullptr, nullptr, nullptr, nullptr) > 0)
            out.push_back(name);
        return out;
    }

private:
    static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
        std::uint32_t id = 0;
        const char *job = nullptr, *unit = nullptr, *result = nullptr;
        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0)
            static_cast<Manager*>(userdata)->jobs_done_[job] = result;
        return 0;
    }

    BusPtr bus_;
    SlotPtr slot_;
    std::string kind_, version_;
    std::map<std::string, std::string> jobs_done_;
};

// A process that keeps the scope populated until corral has read the scope's counters: systemd
// stops an empty scope and removes its cgroup at once, taking the peak and OOM counters with it.
// It ignores SIGTERM (the suite's ending signal) and exits when its pipe closes or on SIGKILL.
class Keeper {
public:
    Keeper() {
        int p[2];
        if (::pipe2(p, O_CLOEXEC) < 0) throw_errno("pipe2");
        UniqueFd r(p[0]), w(p[1]);
        pid_ = ::fork();
        if (pid_ < 0) throw_errno("fork");
        if (pid_ == 0) {
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(sig, SIG_IGN);
            // Only its own pipe: another keeper's write end held here would keep that one alive.
            ::dup2(r.get(), 0);
            ::close_range(1, ~0U, 0);
            char c;
            while (::read(0, &c, 1) < 0 && errno == EINTR) {
            }
            ::_exit(0);
        }
        write_ = std::move(w);
        pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    }
    ~Keeper() { release(); }
    Keeper(const Keeper&) = delete;
    Keeper& operator=(const Keeper&) = delete;

    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    // Lets it exit and reaps it.
    void release() {
        if (pid_ <= 0) return;
        write_.reset();
        ::kill(pid_, SIGKILL);  // and should it be stuck somewhere, it still goes
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
    UniqueFd write_, pidfd_;
};

std::string limit_text(std::uint64_t v) { return v == kInfinity ? "infinity" : format_bytes(v); }

class ScopeBox : public Box {
public:
    ScopeBox(std::shared_ptr<Manager> mgr, const CgroupLayout& layout, std::string unit, std::string slice,
             std::string description)
        : mgr_(std::move(mgr)), layout_(layout), unit_(std::move(unit)), slice_(std::move(slice)),
          description_(std::move(description)) {}

    ~ScopeBox() override {
        if (!started_) return;
        try {
            // Without payload or inner box (its limits were refused) the held child is still in
            // the scope: kill whatever is there.
            if ((!events_ && !inner_) || still_populated()) {
                mgr_->kill_unit(unit_, SIGKILL);
                for (int i = 0; i < 500 && still_populated(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            if (keeper_) keeper_->release();  // the scope is empty now: systemd stops it
            inner_.reset();
            events_.reset();
            mgr_->unref_unit(unit_);
            // CollectMode=inactive-or-failed: an empty, unreferenced scope is unloaded.
            for (int i = 0; i < 500 && !mgr_->unit_path(unit_).empty(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
        } catch (const std::exception& e) {
            std::cerr << "corral: warning: ending scope " << unit_ << ": " << e.what() << "\n";
        }
    }

    void apply_limits(const Limits& l) override { limits_ = l; }

    void enter(pid_t pid) override {
        keeper_.emplace();
        std::string job = start(pid);
        std::string result = mgr_->wait_job(job, std::chrono::seconds(15));
        started_ = true;
        if (result != "done")
            throw Error(fmt::format("starting scope {}: the manager's job ended with result '{}'", unit_, result));
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
                    cg_enter(payload_, pid);
                    events_ = UniqueFd(::open((payload_ + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
                    if (!events_) throw_errno("open " + payload_ + "/cgroup.events");
                });
            }
        }
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
        mgr_->kill_unit(unit_, sig);  // the keeper ignores SIGTERM
        return n;
    }
    int kill_all() override {
        snapshot();  // SIGKILL takes the keeper too: the scope may be gone before counters() runs
        return signal_all(SIGKILL);
    }

    BoxSample sample() override {
        BoxSample out = inner_ ? inner_->sample() : BoxSample{};
        snapshot();
        return out;
    }
    std::optional<MemorySplit> memory_split() override { return inner_ ? inner_->memory_split() : std::nullopt; }
    bool oom_group_native() const override { return inner_ && inner_->oom_group_native(); }
    std::uint64_t oom_kills_now() override { return inner_ ? inner_->oom_kills_now() : 0; }

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
                check(sd_bus_message_read(reply.get(), "o", &job), "reading the StartTransientUnit reply");
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
            l.cpu_quota_percent ? t("CPUQuotaPerSecUSec", cpu_quota_per_sec_usec(*l.cpu_quota_percent)) : 0,
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

    std::shared_ptr<Manager> mgr_;
    CgroupLayout layout_;
    std::string unit_, slice_, description_;
    Limits limits_;
    bool started_ = false;
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
    std::vector<std::string> remove_stale() override {
        std::vector<std::string> out;
        for (const auto& unit : mgr_->list_units("corral-*.scope")) {
            std::string base = unit.substr(0, unit.size() - std::string(".scope").size());
            std::string id = run_id_of_box(base);
            if (id.empty() || id == run_id_ || RunLock::alive(id)) continue;
            mgr_->kill_unit(unit, SIGKILL);
            for (int i = 0; i < 500 && !mgr_->unit_path(unit).empty(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            out.push_back(fmt::format("killed stale scope {} left by a launcher that is gone", unit));
        }
        return out;
    }

    std::vector<std::string> setup_notes() const override {
        return {fmt::format("systemd scopes in {} via the {} manager (systemd {})", settings_.slice, mgr_->kind(),
                            mgr_->version())};
    }

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
