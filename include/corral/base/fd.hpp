// RAII file descriptors and small file helpers that name the path in their errors.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace corral {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

// Reads a whole file; throws SysError "open PATH" / "read PATH".
std::string read_file(const std::string& path);
// As read_file, but std::nullopt when the file does not exist (ENOENT).
std::optional<std::string> read_file_if_exists(const std::string& path);
// Writes value to an existing file (cgroup knobs) in one write(2);
// throws SysError "write PATH = VALUE: <errno text>".
void write_file(const std::string& path, const std::string& value);
// Writes content to path atomically: temp file in the same directory, fsync, rename, fsync dir.
void write_file_atomic(const std::string& path, const std::string& content);
// stat(2) succeeds: the path exists (any type).
bool path_exists(const std::string& path);
// mkdir -p; throws SysError naming the component that failed.
void make_dirs(const std::string& path, unsigned mode = 0755);

}  // namespace corral
