// Reading new kernel log records from /dev/kmsg (the OOM-report source that needs no journald).
#pragma once

#include <cstdint>
#include <vector>

#include "corral/base/fd.hpp"
#include "corral/oom/oom_record.hpp"

namespace corral {

class KmsgReader {
public:
    // Opens /dev/kmsg O_RDONLY|O_NONBLOCK|O_CLOEXEC and seeks to the end, so only records
    // logged from now on are read. Throws SysError "open /dev/kmsg: …" (with advice when
    // kernel.dmesg_restrict denies it).
    KmsgReader();
    // For EventLoop::add(fd(), EPOLLIN, …): readable when new records arrived.
    int fd() const noexcept { return fd_.get(); }
    // Reads every whole record available now (one read(2) per record, 16 KiB buffer) until
    // EAGAIN. Records the kernel overwrote before they were read (EPIPE) are counted in
    // lost_count() and reading goes on from the oldest record still there.
    // Throws SysError "read /dev/kmsg: …" on other errors.
    std::vector<KernelLine> read_available();
    std::uint64_t lost_count() const noexcept { return lost_; }

private:
    UniqueFd fd_;
    std::uint64_t lost_ = 0;
};

}  // namespace corral
