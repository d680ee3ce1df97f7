// The factory that knows every cgroup backend: it picks the one for this machine.
#pragma once

#include <memory>
#include <string>

#include "corral/box/backend.hpp"

namespace corral {

// Picks the cgroup backend for this machine; boxes are named corral-<suite>-<run_id>.
// Throws Error explaining what is missing and how to fix it. With allow_unboxed, a machine
// without usable cgroups yields the "unboxed" backend and `why` receives the reason.
std::unique_ptr<Backend> make_backend(const std::string& run_id, bool allow_unboxed, std::string& why);

}  // namespace corral
