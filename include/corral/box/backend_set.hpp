// The backends of one run and which suite goes where (profile `backend:`, or --backend).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corral/box/backend.hpp"
#include "corral/box/systemd_scope.hpp"
#include "corral/profile/profile.hpp"

namespace corral {

struct BackendSetOptions {
    std::string run_id;
    bool allow_unboxed = false;
    ScopeSettings scope;
    std::optional<BackendChoice> force;  // --backend: overrides every suite's choice
};

class BackendSet {
public:
    // Sets up what the suites need. `backend: auto` takes the systemd scope when a manager is
    // reachable and a probe scope with the auto suites' limits shows them enforced, else the cgroup
    // backend. Throws Error when the cgroup backend is needed and cannot be had, or when every suite
    // asks for the systemd scope and no manager can be used.
    BackendSet(const std::vector<SuiteSpec>& suites, const BackendSetOptions& opts);

    // The backend for a suite and why; nullptr with `error` when the one it asks for is missing.
    Backend* pick(const SuiteSpec& suite, std::string& reason, std::string& error);

    std::vector<Backend*> backends();                  // the ones set up
    std::vector<std::string> notes() const { return notes_; }  // for the report and --verbose
    std::string launcher_memcg() const;

private:
    BackendChoice choice(const SuiteSpec& s) const { return opts_.force ? *opts_.force : s.backend; }

    BackendSetOptions opts_;
    std::unique_ptr<Backend> cgroup_, scope_;
    std::string scope_error_;
    bool auto_scope_ = false, want_scope_ = false;
    std::string auto_reason_;
    std::vector<std::string> notes_;
};

// The probe behind `auto`: starts a scope with these limits around a held child and checks that
// the kernel shows them. Returns "" when they hold, else why not.
std::string probe_scope(Backend& scope, const Limits& limits);

}  // namespace corral
