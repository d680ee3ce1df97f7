#include "corral/box/systemd_manager.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>

#include "corral/base/error.hpp"

namespace corral {

namespace {
constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr std::uint64_t kBusTimeoutUs = 15'000'000;
}  // namespace

std::string BusError::describe(int r) const { return set() ? name() + ": " + message() : errno_text(-r); }

void check_bus(int r, const std::string& what) {
    if (r < 0) throw SysError(what, -r);
}

Manager::Manager(BusChoice choice) {
    bool system = choice == BusChoice::System || (choice == BusChoice::Auto && ::geteuid() == 0);
    kind_ = system ? "system" : "user";
    sd_bus* b = nullptr;
    int r = system ? sd_bus_open_system(&b) : sd_bus_open_user(&b);
    if (r < 0)
        throw SysError(SysError::Preformatted{}, fmt::format("connecting to the {} bus: {}", kind_, errno_text(-r)),
                       -r);
    bus_.reset(b);
    // Is a manager there at all? (a bus without systemd answers ServiceUnknown)
    BusError err;
    char* version = nullptr;
    r = sd_bus_get_property_string(bus_.get(), kDest, kPath, kManager, "Version", &err.e, &version);
    if (r < 0) throw Error(fmt::format("no systemd manager answers on the {} bus: {}", kind_, err.describe(r)));
    version_ = version;
    std::free(version);
    // JobRemoved and UnitRemoved are only sent to subscribers.
    sd_bus_slot* slot = nullptr;
    check_bus(sd_bus_match_signal(bus_.get(), &slot, kDest, kPath, kManager, "JobRemoved", &Manager::on_job_removed,
                                  this),
              "sd_bus_match_signal JobRemoved");
    job_slot_.reset(slot);
    check_bus(sd_bus_match_signal(bus_.get(), &slot, kDest, kPath, kManager, "UnitRemoved",
                                  &Manager::on_unit_removed, this),
              "sd_bus_match_signal UnitRemoved");
    unit_slot_.reset(slot);
    call("Subscribe", [](sd_bus_message*) { return 0; });
}

MsgPtr Manager::new_call(const char* method) {
    sd_bus_message* m = nullptr;
    check_bus(sd_bus_message_new_method_call(bus_.get(), &m, kDest, kPath, kManager, method),
              std::string("sd_bus_message_new_method_call ") + method);
    return MsgPtr(m);
}

MsgPtr Manager::send(const char* method, MsgPtr msg, BusError* err_out, int* r_out) {
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

int Manager::fd() const { return sd_bus_get_fd(bus_.get()); }

void Manager::dispatch() {
    for (;;) {
        int r = sd_bus_process(bus_.get(), nullptr);
        check_bus(r, "sd_bus_process");
        if (r == 0) return;
    }
}

bool Manager::wait_unloaded(const std::string& unit, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        dispatch();
        if (unit_removed(unit) || unit_path(unit).empty()) return true;
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        // Woken by UnitRemoved; the GetUnit above covers a unit unloaded before we asked.
        int r = sd_bus_wait(bus_.get(), static_cast<std::uint64_t>(std::min<std::int64_t>(left.count(), 100'000)));
        if (r < 0 && r != -EINTR) check_bus(r, "sd_bus_wait");
    }
}

std::optional<std::string> Manager::job_result(const std::string& job) {
    auto it = jobs_done_.find(job);
    if (it == jobs_done_.end()) return std::nullopt;
    std::string result = std::move(it->second);
    jobs_done_.erase(it);
    return result;
}

std::string Manager::unit_path(const std::string& unit) {
    BusError err;
    int r = 0;
    auto reply =
        call("GetUnit", [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", unit.c_str()); }, &err, &r);
    if (!reply) {
        if (err.name() == "org.freedesktop.systemd1.NoSuchUnit") return "";
        throw Error(fmt::format("GetUnit {}: {}", unit, err.describe(r)));
    }
    const char* path = nullptr;
    check_bus(sd_bus_message_read(reply.get(), "o", &path), "reading the GetUnit reply");
    return path;
}

std::string Manager::unit_string(const std::string& path, const char* iface, const char* prop) {
    BusError err;
    char* v = nullptr;
    int r = sd_bus_get_property_string(bus_.get(), kDest, path.c_str(), iface, prop, &err.e, &v);
    if (r < 0) throw Error(fmt::format("reading {} of {}: {}", prop, path, err.describe(r)));
    std::string out = v;
    std::free(v);
    return out;
}

void Manager::kill_unit(const std::string& unit, int sig) {
    call("KillUnit", [&](sd_bus_message* m) { return sd_bus_message_append(m, "ssi", unit.c_str(), "all", sig); });
}

void Manager::unref_unit(const std::string& unit) {
    BusError err;
    call("UnrefUnit", [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", unit.c_str()); }, &err);
}

std::vector<std::string> Manager::list_units(const std::string& pattern) {
    auto reply = call("ListUnitsByPatterns", [&](sd_bus_message* m) {
        int r = sd_bus_message_append(m, "as", 0);
        if (r < 0) return r;
        return sd_bus_message_append(m, "as", 1, pattern.c_str());
    });
    std::vector<std::string> out;
    check_bus(sd_bus_message_enter_container(reply.get(), 'a', "(ssssssouso)"), "reading ListUnitsByPatterns");
    const char* name = nullptr;
    while (sd_bus_message_read(reply.get(), "(ssssssouso)", &name, nullptr, nullptr, nullptr, nullptr, nullptr,
                               nullptr, nullptr, nullptr, nullptr) > 0)
        out.push_back(name);
    return out;
}

int Manager::on_unit_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    const char *unit = nullptr, *path = nullptr;
    // Only ours: the manager announces every unit it unloads, and a run may last a day.
    if (sd_bus_message_read(m, "so", &unit, &path) >= 0 && std::string_view(unit).starts_with("corral-"))
        static_cast<Manager*>(userdata)->removed_.insert(unit);
    return 0;
}

int Manager::on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    std::uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0)
        static_cast<Manager*>(userdata)->jobs_done_[job] = result;
    return 0;
}

}  // namespace corral
