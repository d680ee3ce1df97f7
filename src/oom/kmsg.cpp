#include "corral/oom/kmsg.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "corral/base/error.hpp"

namespace corral {

namespace {
constexpr const char* kKmsg = "/dev/kmsg";
}

KmsgReader::KmsgReader() : fd_(::open(kKmsg, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
    if (!fd_) {
        int e = errno;
        std::string what = std::string("open ") + kKmsg;
        if (e == EPERM || e == EACCES)
            throw SysError(SysError::Preformatted{},
                           what + ": " + errno_text(e) +
                               " (reading the kernel log needs CAP_SYSLOG when kernel.dmesg_restrict=1)",
                           e);
        throw_errno(what, e);
    }
    if (::lseek(fd_.get(), 0, SEEK_END) < 0) throw_errno(std::string("lseek ") + kKmsg + " to the end");
}

std::vector<KernelLine> KmsgReader::read_available() {
    std::vector<KernelLine> out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            if (errno == EPIPE) {  // overwritten in the ring buffer; the next read resumes
                ++lost_;
                continue;
            }
            throw_errno(std::string("read ") + kKmsg);
        }
        if (n == 0) break;
        if (auto line = parse_kmsg_record(std::string_view(buf, static_cast<std::size_t>(n))))
            out.push_back(std::move(*line));
    }
    return out;
}

}  // namespace corral
