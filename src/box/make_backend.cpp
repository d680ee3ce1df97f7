#include "corral/box/make_backend.hpp"

#include "corral/base/error.hpp"
#include "corral/box/cgroup_paths.hpp"
#include "corral/box/cgroup_v1.hpp"
#include "corral/box/cgroup_v2.hpp"
#include "corral/box/unboxed.hpp"

namespace corral {

std::unique_ptr<Backend> make_backend(const std::string& run_id, bool allow_unboxed, std::string& why) {
    try {
        CgroupLayout layout = detect_layout();
        switch (layout.mode) {
            case CgroupMode::Legacy:
            case CgroupMode::Hybrid:
                return make_cgroup_v1_backend(layout, run_id);
            case CgroupMode::Unified:
                return make_cgroup_v2_backend(layout, run_id);
            case CgroupMode::None:
                throw Error("no cgroup hierarchy is mounted for this process (see /proc/self/mountinfo): mount "
                            "cgroupfs or run in a container that has one");
        }
        throw Error("unknown cgroup layout");
    } catch (const Error& e) {
        if (!allow_unboxed) throw;
        why = e.what();
        return make_unboxed_backend(why);
    }
}

}  // namespace corral
