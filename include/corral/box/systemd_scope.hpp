// The systemd scope backend: each suite in a transient scope started over sd-bus.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "corral/box/backend.hpp"
#include "corral/box/cgroup_paths.hpp"
#include "corral/box/systemd_manager.hpp"

namespace corral {

struct ScopeSettings {
    BusChoice bus = BusChoice::Auto;
    std::string slice = "corral.slice";
};

// Connects to the service manager and checks that it answers. Throws Error saying why no manager
// is reachable ("connecting to the system bus: …: No such file or directory").
std::unique_ptr<Backend> make_systemd_scope_backend(const CgroupLayout& layout, const std::string& run_id,
                                                    const ScopeSettings& settings);

// "corral-<suite>-<run id>.scope"
std::string scope_unit_name(const std::string& suite, const std::string& run_id);

// The property a StartTransientUnit error complains about, when the manager does not know it
// (systemd: "Cannot set property OOMPolicy, or unknown property." with PropertyReadOnly, or an
// UnknownProperty error); nullopt for any other error.
std::optional<std::string> unknown_property_in(const std::string& error_name, const std::string& message);

}  // namespace corral
