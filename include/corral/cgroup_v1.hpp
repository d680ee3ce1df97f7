// The cgroup v1 backend (pure v1, and hybrid with the unified hierarchy beside it).
#pragma once

#include <memory>
#include <string>

#include "corral/backend.hpp"
#include "corral/cgroup_paths.hpp"

namespace corral {

// Throws Error with advice when the memory hierarchy is missing or not writable.
std::unique_ptr<Backend> make_cgroup_v1_backend(const CgroupLayout& layout, const std::string& run_id);

}  // namespace corral
