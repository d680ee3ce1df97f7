// The cgroup v1 backend (pure v1, and hybrid with the unified hierarchy beside it).
#pragma once

#include <memory>
#include <string>

#include "corral/box/backend.hpp"
#include "corral/box/cgroup_paths.hpp"

namespace corral {

// Throws Error with advice when the memory hierarchy is missing or not writable.
std::unique_ptr<Backend> make_cgroup_v1_backend(const CgroupLayout& layout, const std::string& run_id);

// A box over cgroups someone else made (a systemd scope's ControlGroup, e.g.
// "/corral.slice/corral-unit-1a2b.scope"), in every v1 hierarchy where it exists and in the unified
// one: for measuring and signalling. Its limits are not written and it is not removed.
std::unique_ptr<Box> adopt_cgroup_v1_box(const CgroupLayout& layout, const std::string& cgroup_path);

}  // namespace corral
