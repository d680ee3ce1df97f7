// Fault injection for tests: CORRAL_FAULT=OP:SUITE[,OP:SUITE…] makes that box operation of that suite
// throw, as a kernel or a service manager can (a cgroup file that fails, a bus that is gone), so the
// tests can show that one suite's error ends that suite and never the run. OP: signal (signal_all),
// kill (kill_round), sample, counters. Unset (always, outside tests): boxes are returned as they are.
#pragma once

#include <memory>
#include <string>

#include "corral/box/backend.hpp"

namespace corral {

std::unique_ptr<Box> with_injected_faults(std::unique_ptr<Box> box, const std::string& suite);

}  // namespace corral
