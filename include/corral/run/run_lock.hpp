// The launcher's run id and the lock that tells live launchers from dead ones.
#pragma once

#include <string>

#include "corral/base/fd.hpp"

namespace corral {

// Holds <runtime dir>/<id>.lock under flock(LOCK_EX) for the launcher's lifetime, so a later
// launcher can tell that boxes named with this id belong to a live process.
class RunLock {
public:
    RunLock();  // random 8-hex-digit id
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

    const std::string& id() const noexcept { return id_; }

    // /run/corral when writable, else $XDG_RUNTIME_DIR/corral, else /tmp/corral-<uid>;
    // $CORRAL_RUNTIME_DIR overrides.
    static std::string runtime_dir();
    // True when a launcher holding that id's lock is alive.
    static bool alive(const std::string& id);
    // Removes a dead launcher's lock file.
    static void forget(const std::string& id);

private:
    std::string id_;
    std::string path_;
    UniqueFd fd_;
};

}  // namespace corral
