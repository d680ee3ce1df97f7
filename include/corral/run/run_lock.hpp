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
    // Leave the lock file when the launcher exits (released, not removed): a box it could not
    // remove is then stale by this file for later launchers.
    void keep_file() noexcept { keep_ = true; }

    // /run/corral when writable, else $XDG_RUNTIME_DIR/corral, else /tmp/corral-<uid>;
    // $CORRAL_RUNTIME_DIR overrides.
    static std::string runtime_dir();
    // True only when that id's lock file is there and no launcher holds it: its launcher is gone.
    // No lock file says nothing (a launcher with another CORRAL_RUNTIME_DIR may be running): false.
    static bool gone(const std::string& id);
    // Removes a dead launcher's lock file.
    static void forget(const std::string& id);

private:
    std::string id_;
    std::string path_;
    UniqueFd fd_;
    bool keep_ = false;
};

}  // namespace corral
