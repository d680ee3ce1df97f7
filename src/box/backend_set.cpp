#include "corral/box/backend_set.hpp"

#include <poll.h>

#include <algorithm>
#include <fmt/format.h>

#include "corral/base/error.hpp"
#include "corral/box/cgroup_paths.hpp"
#include "corral/box/keeper.hpp"
#include "corral/box/make_backend.hpp"

namespace corral {

namespace {

// Waits for the backend's next event (or `at_most`), then lets it dispatch: the probe runs before
// the run's event loop exists.
void wait_for_backend(Backend& b, Duration at_most) {
    pollfd p{b.event_fd(), POLLIN, 0};
    ::poll(&p, p.fd >= 0 ? 1 : 0, static_cast<int>(std::max<std::int64_t>(1, at_most.count() / 1000)));
    b.dispatch();
}

}  // namespace

std::string probe_scope(Backend& scope, const Limits& limits) {
    std::string why;
    try {
        Keeper placeholder;  // the scope's first process; killed and reaped on destruction
        auto box = scope.create_box("probe");
        try {
            box->apply_limits(limits);
            if (!box->enter(placeholder.pid()))
                do wait_for_backend(scope, Box::enter_poll());
                while (!box->enter_done());
        } catch (const Error& e) {
            why = e.what();
        }
        // Gone before the suites start: the manager prunes cgroups as it unloads it.
        while (auto again = box->release()) wait_for_backend(scope, *again);
    } catch (const Error& e) {
        if (why.empty()) why = e.what();
    }
    return why;
}

namespace {

// Every limit any of the suites sets (the probe only asks "is this kind of limit enforced").
Limits union_of_limits(const std::vector<const SuiteSpec*>& suites) {
    Limits u;
    for (const SuiteSpec* s : suites) {
        const Limits& l = s->limits;
        if (l.memory_max && !u.memory_max) u.memory_max = l.memory_max;
        if (l.memory_high && !u.memory_high) u.memory_high = l.memory_high;
        if (l.swap_max && !u.swap_max) u.swap_max = l.swap_max;
        if (l.tasks_max && !u.tasks_max) u.tasks_max = l.tasks_max;
        if (l.cpu_quota_percent && !u.cpu_quota_percent) u.cpu_quota_percent = l.cpu_quota_percent;
        u.oom_group = u.oom_group || l.oom_group;
    }
    return u;
}

}  // namespace

BackendSet::BackendSet(const std::vector<SuiteSpec>& suites, const BackendSetOptions& opts) : opts_(opts) {
    std::vector<const SuiteSpec*> auto_suites;
    bool want_scope = false, want_cgroup = false;
    for (const auto& s : suites) {
        switch (choice(s)) {
            case BackendChoice::Auto: auto_suites.push_back(&s); break;
            case BackendChoice::SystemdScope: want_scope = true; break;
            case BackendChoice::Cgroup: want_cgroup = true; break;
        }
    }
    want_scope_ = want_scope;
    if (want_scope || !auto_suites.empty()) {
        try {
            scope_ = make_systemd_scope_backend(detect_layout(), opts_.run_id, opts_.scope);
        } catch (const Error& e) {
            scope_error_ = e.what();
        }
    }
    if (want_scope && !scope_ && !want_cgroup && auto_suites.empty())
        throw Error(std::string(opts_.force ? "--backend systemd-scope"
                                            : "every suite asks for backend: systemd-scope") +
                    ", but no systemd manager could be used (" + scope_error_ +
                    "): run corral where systemd runs, or use the cgroup backend (--backend cgroup)");
    if (!auto_suites.empty()) {
        if (scope_) {
            std::string why = probe_scope(*scope_, union_of_limits(auto_suites));
            auto_scope_ = why.empty();
            auto_reason_ = auto_scope_ ? "backend auto: a systemd manager is reachable and a probe scope in " +
                                             opts_.scope.slice + " showed the suites' limits enforced"
                                       : "backend auto: the systemd manager cannot give the suites their limits (" +
                                             why + "), so the cgroup backend is used";
        } else {
            auto_reason_ = "backend auto: no systemd manager is reachable (" + scope_error_ +
                           "), so the cgroup backend is used";
        }
        notes_.push_back(auto_reason_);
        want_cgroup = want_cgroup || !auto_scope_;
    }
    if (want_cgroup) {
        std::string unboxed_why;
        try {
            cgroup_ = with_context("setting up cgroups",
                                   [&] { return make_backend(opts_.run_id, opts_.allow_unboxed, unboxed_why); });
        } catch (const Error& e) {
            if (auto_reason_.empty() || auto_scope_) throw;
            // Say why the scope was not taken either, not only what the cgroup backend lacks.
            throw Error(std::string(e.what()) + " — and the systemd scope was no way out: " + auto_reason_);
        }
        if (!unboxed_why.empty())
            notes_.push_back("no cgroup could be used, so no limit was enforced (--allow-unboxed): " + unboxed_why);
    }
    for (Backend* b : backends())
        for (auto& n : b->setup_notes()) notes_.push_back(n);
}

Backend* BackendSet::pick(const SuiteSpec& suite, std::string& reason, std::string& error) {
    switch (choice(suite)) {
        case BackendChoice::Cgroup:
            reason = opts_.force ? "--backend cgroup" : "backend: cgroup";
            return cgroup_.get();
        case BackendChoice::SystemdScope:
            reason = opts_.force ? "--backend systemd-scope" : "backend: systemd-scope";
            if (!scope_) error = "backend systemd-scope: " + scope_error_;
            return scope_.get();
        case BackendChoice::Auto:
            reason = auto_reason_;
            return auto_scope_ ? scope_.get() : cgroup_.get();
    }
    error = "unknown backend";
    return nullptr;
}

std::vector<Backend*> BackendSet::backends() {
    std::vector<Backend*> out;
    if (cgroup_) out.push_back(cgroup_.get());
    if (scope_ && (auto_scope_ || want_scope_)) out.push_back(scope_.get());
    return out;
}

std::string BackendSet::launcher_memcg() const { return cgroup_ ? cgroup_->launcher_memcg() : ""; }

}  // namespace corral
