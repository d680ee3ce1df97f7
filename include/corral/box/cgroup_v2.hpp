// The cgroup v2 backend (a pure unified hierarchy).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "corral/box/backend.hpp"
#include "corral/box/cgroup_paths.hpp"

namespace corral {

// Controllers the v2 backend enables for its boxes (memory is required; pids and cpu are needed
// only by the limits that use them).
inline const std::vector<std::string> kV2Controllers = {"memory", "pids", "cpu"};

// Prepares the launcher's cgroup to hold boxes: enables memory, pids and cpu in subtree_control
// (and in the ancestors' below the mount, where they are missing), moving the launcher into a
// `corral-launcher` leaf first when its cgroup holds processes ("no internal processes" rule).
// Throws Error with advice when that cannot be done.
std::unique_ptr<Backend> make_cgroup_v2_backend(const CgroupLayout& layout, const std::string& run_id);

// A box over an existing cgroup directory (a systemd scope's): measured and signalled, not removed.
std::unique_ptr<Box> adopt_cgroup_v2_box(const std::string& dir);

// "memory pids cpu" → {"memory", "pids", "cpu"} (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> parse_controller_list(const std::string& text);

}  // namespace corral
