#include "corral/oom/journal.hpp"

#include <sys/stat.h>
#include <time.h>

#include <charconv>
#include <optional>

#include "corral/base/error.hpp"

namespace corral {

namespace {

constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

void check(int r, const char* what) {
    if (r < 0) throw_errno(what, -r);
}

// The local system journal, plus extra_flags (SD_JOURNAL_CURRENT_USER: the caller's user journal).
JournalReader::Handle open_local_journal(int extra_flags = 0) {
    sd_journal* raw = nullptr;
    check(sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM | extra_flags), "sd_journal_open");
    return {raw, &sd_journal_close};
}

void add_match(sd_journal* j, const std::string& match) {
    int r = sd_journal_add_match(j, match.data(), match.size());
    if (r < 0) throw_errno("sd_journal_add_match " + match, -r);
}

// The value of FIELD in the current entry; nullopt when the entry has no such field.
std::optional<std::string> field(sd_journal* j, const std::string& name) {
    const void* data = nullptr;
    size_t len = 0;
    if (sd_journal_get_data(j, name.c_str(), &data, &len) < 0) return std::nullopt;
    std::string s(static_cast<const char*>(data), len);
    if (s.size() <= name.size() || s.compare(0, name.size() + 1, name + "=") != 0) return std::nullopt;
    return s.substr(name.size() + 1);
}

std::uint64_t to_u64(const std::optional<std::string>& s, std::uint64_t fallback) {
    if (!s) return fallback;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    return ec == std::errc() && p == s->data() + s->size() ? v : fallback;
}

}  // namespace

bool JournalReader::available() {
    struct stat st {};
    return ::stat(kJournalSocket, &st) == 0 && S_ISSOCK(st.st_mode);
}

JournalReader::JournalReader() : j_(nullptr, &sd_journal_close) {
    if (!available())
        throw Error(std::string("journald is not running (") + kJournalSocket +
                    " does not exist): kernel OOM records can only come from /dev/kmsg");
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    start_realtime_us_ =
        static_cast<std::uint64_t>(now.tv_sec) * 1000000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
    j_ = open_local_journal();
    fd_ = sd_journal_get_fd(j_.get());
    check(fd_, "sd_journal_get_fd");
    add_match(j_.get(), "_TRANSPORT=kernel");
    check(sd_journal_seek_tail(j_.get()), "sd_journal_seek_tail");
    // Step onto the last entry, so that sd_journal_next() returns only what comes after it.
    check(sd_journal_previous(j_.get()), "sd_journal_previous");
}

std::vector<KernelLine> JournalReader::read_available() {
    check(sd_journal_process(j_.get()), "sd_journal_process");
    std::vector<KernelLine> out;
    for (;;) {
        int r = sd_journal_next(j_.get());
        check(r, "sd_journal_next");
        if (r == 0) break;
        auto text = field(j_.get(), "MESSAGE");
        if (!text) continue;
        std::uint64_t mono = 0;
        sd_id128_t boot{};
        if (sd_journal_get_monotonic_usec(j_.get(), &mono, &boot) < 0) mono = 0;
        KernelLine line;
        line.seq = ++count_;
        line.mono_us = to_u64(field(j_.get(), "_SOURCE_MONOTONIC_TIMESTAMP"), mono);
        line.priority = static_cast<int>(to_u64(field(j_.get(), "PRIORITY"), 6));
        // journald gives kmsg lines a process wrote with their own facility (and identifier).
        line.from_kernel = to_u64(field(j_.get(), "SYSLOG_FACILITY"), 0) == 0;
        line.text = std::move(*text);
        out.push_back(std::move(line));
    }
    return out;
}

std::vector<std::string> JournalReader::unit_messages(const std::string& unit) {
    return with_context("journal messages about " + unit, [&] {
        Handle j = open_local_journal(SD_JOURNAL_CURRENT_USER);
        add_match(j.get(), "UNIT=" + unit);
        check(sd_journal_add_disjunction(j.get()), "sd_journal_add_disjunction");
        add_match(j.get(), "USER_UNIT=" + unit);
        check(sd_journal_seek_realtime_usec(j.get(), start_realtime_us_), "sd_journal_seek_realtime_usec");
        std::vector<std::string> out;
        for (;;) {
            int r = sd_journal_next(j.get());
            check(r, "sd_journal_next");
            if (r == 0) break;
            if (auto text = field(j.get(), "MESSAGE")) {
                if (out.size() == kMaxUnitMessages) out.erase(out.begin());
                out.push_back(std::move(*text));
            }
        }
        return out;
    });
}

}  // namespace corral
