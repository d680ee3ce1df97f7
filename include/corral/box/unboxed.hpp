#pragma once

#include <memory>
#include <string>

#include "corral/box/backend.hpp"

namespace corral {
// No cgroup at all (--allow-unboxed); `why` says why no box could be made.
std::unique_ptr<Backend> make_unboxed_backend(const std::string& why);
}  // namespace corral
