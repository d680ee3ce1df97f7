#include "corral/run/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>

#include "corral/base/error.hpp"

namespace corral {

std::string RunLock::runtime_dir() {
    if (const char* d = std::getenv("CORRAL_RUNTIME_DIR"); d && *d) return d;
    if (::access("/run", W_OK) == 0) return "/run/corral";
    if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/corral";
    return fmt::format("/tmp/corral-{}", ::getuid());
}

RunLock::RunLock() {
    unsigned char rnd[4];
    if (::getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd)) throw_errno("getrandom");
    id_ = fmt::format("{:02x}{:02x}{:02x}{:02x}", rnd[0], rnd[1], rnd[2], rnd[3]);
    std::string dir = runtime_dir();
    with_context("creating the run lock", [&] { make_dirs(dir, 0700); });
    path_ = dir + "/" + id_ + ".lock";
    fd_ = UniqueFd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw_errno("create " + path_);
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) < 0) throw_errno("flock " + path_);
}

RunLock::~RunLock() {
    if (!path_.empty() && !keep_) ::unlink(path_.c_str());
}

bool RunLock::gone(const std::string& id) {
    std::string path = runtime_dir() + "/" + id + ".lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd) return false;
    return ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;  // released when fd closes
}

void RunLock::forget(const std::string& id) { ::unlink((runtime_dir() + "/" + id + ".lock").c_str()); }

}  // namespace corral
