#include "corral/base/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "corral/base/error.hpp"

namespace corral {

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

namespace {
std::optional<std::string> read_impl(const std::string& path, bool missing_ok) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (missing_ok && errno == ENOENT) return std::nullopt;
        throw_errno("open " + path);
    }
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}
}  // namespace

std::string read_file(const std::string& path) { return *read_impl(path, false); }

std::optional<std::string> read_file_if_exists(const std::string& path) { return read_impl(path, true); }

void write_file(const std::string& path, const std::string& value) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path + " for writing");
    ssize_t n;
    do {
        n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw_errno("write " + path + " = " + value);
    if (static_cast<size_t>(n) != value.size())
        throw Error("write " + path + " = " + value + ": short write");
}

void write_file_atomic(const std::string& path, const std::string& content) {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) throw_errno("create " + tmp);
        size_t off = 0;
        while (off < content.size()) {
            ssize_t n = ::write(fd.get(), content.data() + off, content.size() - off);
            if (n < 0) {
                if (errno == EINTR) continue;
                int e = errno;
                ::unlink(tmp.c_str());
                throw_errno("write " + tmp, e);
            }
            off += static_cast<size_t>(n);
        }
        // EINVAL: a file that cannot be synchronized (not a regular file): nothing to wait for.
        if (::fsync(fd.get()) < 0 && errno != EINVAL) {
            int e = errno;
            ::unlink(tmp.c_str());
            throw_errno("fsync " + tmp, e);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw_errno("rename " + tmp + " to " + path, e);
    }
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd) ::fsync(dfd.get());
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& path, unsigned mode) {
    if (path.empty()) return;
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (cur.empty() || cur == "/") continue;
        if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) throw_errno("mkdir " + cur);
    }
}

}  // namespace corral
