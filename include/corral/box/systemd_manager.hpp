// The sd-bus client of the systemd service manager (org.freedesktop.systemd1): one connection,
// shared by the scope backend and its boxes.
#pragma once

#include <systemd/sd-bus.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace corral {

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
    std::string describe(int r) const;
};

// Throws SysError(what, -r) when an sd-bus call returned r < 0.
void check_bus(int r, const std::string& what);

enum class BusChoice { Auto, System, User };  // auto: the system bus as root, the user bus otherwise

class Manager {
public:
    // Connects and checks that a manager answers; throws Error saying why not.
    explicit Manager(BusChoice choice);

    sd_bus* bus() const { return bus_.get(); }
    const std::string& kind() const { return kind_; }  // "system" | "user"
    const std::string& version() const { return version_; }

    // Calls a Manager method; `append` adds the arguments. Returns the reply. Without err_out a
    // failure throws Error with the bus error's name and message; with it, the reply is null and
    // *err_out (and *r_out) say why.
    template <class Append>
    MsgPtr call(const char* method, Append&& append, BusError* err_out = nullptr, int* r_out = nullptr) {
        MsgPtr msg = new_call(method);
        check_bus(append(msg.get()), std::string("building the ") + method + " call");
        return send(method, std::move(msg), err_out, r_out);
    }

    // The bus connection's fd, for the run's event loop; dispatch() handles every message that
    // came (JobRemoved and UnitRemoved are recorded for job_result() and unit_removed()).
    int fd() const;
    void dispatch();
    // The result of a job ("done", "failed", …) once its JobRemoved signal came; nullopt before.
    std::optional<std::string> job_result(const std::string& job);
    // Whether the manager announced the unit's unloading (UnitRemoved) since we subscribed.
    bool unit_removed(const std::string& unit) const { return removed_.count(unit) > 0; }
    // Waits on the bus until the unit is unloaded, at most `limit`; for work before a run starts
    // (stale scopes), never inside the run's event loop. True when it is gone.
    bool wait_unloaded(const std::string& unit, std::chrono::milliseconds limit);
    // The unit's object path, or "" when the manager has no such unit loaded.
    std::string unit_path(const std::string& unit);
    std::string unit_string(const std::string& path, const char* iface, const char* prop);
    void kill_unit(const std::string& unit, int sig);
    // Drops the reference AddRef took; ignores a unit that is gone already.
    void unref_unit(const std::string& unit);
    // Names of loaded units matching a glob ("corral-*.scope").
    std::vector<std::string> list_units(const std::string& pattern);

private:
    MsgPtr new_call(const char* method);
    MsgPtr send(const char* method, MsgPtr msg, BusError* err_out, int* r_out);
    static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*);
    static int on_unit_removed(sd_bus_message* m, void* userdata, sd_bus_error*);

    BusPtr bus_;
    SlotPtr job_slot_, unit_slot_;
    std::string kind_, version_;
    std::map<std::string, std::string> jobs_done_;
    std::set<std::string> removed_;
};

}  // namespace corral
