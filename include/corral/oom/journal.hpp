// Reading kernel lines and systemd's unit messages from the journal (sd-journal), the OOM-report
// source on hosts where journald runs (it holds the kernel log even when /dev/kmsg is closed to
// us, and has systemd's own "killed by the OOM killer" lines about a scope).
#pragma once

#include <systemd/sd-journal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corral/oom/oom_record.hpp"

namespace corral {

class JournalReader {
public:
    // journald is running here: /run/systemd/journal/socket exists.
    static bool available();

    // Opens the local system journal (SD_JOURNAL_LOCAL_ONLY|SD_JOURNAL_SYSTEM) positioned at
    // its end, matching kernel-transport entries. Throws Error "journald is not running …"
    // when available() is false (an open journal would never deliver anything), SysError
    // "sd_journal_open: …" / "sd_journal_seek_tail: …" otherwise.
    JournalReader();

    // For EventLoop::add(fd(), EPOLLIN, …) (sd_journal_get_fd).
    int fd() const noexcept { return fd_; }

    // Kernel lines (_TRANSPORT=kernel) journaled since the last call: text = MESSAGE,
    // mono_us = _SOURCE_MONOTONIC_TIMESTAMP (the kmsg stamp), priority = PRIORITY,
    // seq = a running count (the journal does not keep the kmsg sequence number).
    std::vector<KernelLine> read_available();

    // MESSAGE of every entry since construction that the service manager logged about `unit`
    // (UNIT= from the system manager, USER_UNIT= from a user manager; the caller's own user
    // journal is read too), e.g. "A process of this unit has been killed by the OOM killer." and
    // "Failed with result 'oom-kill'.". Not what the suite itself logs. At most kMaxUnitMessages,
    // the last ones. Throws SysError naming the sd_journal call that failed.
    std::vector<std::string> unit_messages(const std::string& unit);
    static constexpr std::size_t kMaxUnitMessages = 200;

    using Handle = std::unique_ptr<sd_journal, decltype(&sd_journal_close)>;

private:
    Handle j_;
    int fd_ = -1;
    std::uint64_t start_realtime_us_ = 0;
    std::uint64_t count_ = 0;
};

}  // namespace corral
