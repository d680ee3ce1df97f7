#include "corral/box/systemd_manager.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/profile/quantities.hpp"

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
    // JobRemoved is only sent to subscribers.
    sd_bus_slot* slot = nullptr;
    check_bus(sd_bus_match_signal(bus_.get(), &slot, kDest, kPath, kManager, "JobRemoved", &Manager::on_job_removed,
                                  this),
              "sd_bus_match_signal JobRemoved");
    slot_.reset(slot);
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

std::string Manager::wait_job(const std::string& job, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (auto it = jobs_done_.find(job); it != jobs_done_.end()) {
            std::string result = it->second;
            jobs_done_.erase(it);
            return result;
        }
        int r = sd_bus_process(bus_.get(), nullptr);
        check_bus(r, "sd_bus_process");
        if (r > 0) continue;
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw Error("no JobRemoved signal for " + job + " within " + format_duration(limit));
        r = sd_bus_wait(bus_.get(), static_cast<std::uint64_t>(left.count()));
        if (r < 0 && r != -EINTR) check_bus(r, "sd_bus_wait");
    }
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

int Manager::on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    std::uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0)
        static_cast<Manager*>(userdata)->jobs_done_[job] = result;
    return 0;
}

}  // namespace corral
