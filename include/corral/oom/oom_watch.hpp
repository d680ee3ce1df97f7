// The run's source of kernel OOM records (/dev/kmsg or the journal) and their parser.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corral/oom/journal.hpp"
#include "corral/oom/kmsg.hpp"
#include "corral/oom/oom_record.hpp"

namespace corral {

enum class OomSourceChoice { Auto, Kmsg, Journal, None };
// "auto" | "kmsg" | "journal" | "none"; throws UsageError otherwise.
OomSourceChoice parse_oom_source(const std::string& text);

class OomWatch {
public:
    // Auto: the journal where journald runs, else /dev/kmsg; when neither can be read the source is
    // "none" and why() says why (the report carries it). An explicit choice that fails throws Error.
    explicit OomWatch(OomSourceChoice choice);
    ~OomWatch();

    const std::string& source() const noexcept { return source_; }  // "kmsg" | "journal" | "none"
    const std::string& why() const noexcept { return why_; }
    int fd() const noexcept;  // -1 for none
    // Reads what the source has and returns the OOM reports completed by it.
    std::vector<OomRecord> poll();
    std::uint64_t lost() const noexcept;  // kmsg records overwritten before we read them
    // What the service manager logged about a systemd unit since the run began (see
    // JournalReader::unit_messages); nullopt when the source is not the journal.
    std::optional<std::vector<std::string>> unit_messages(const std::string& unit);

private:
    std::string source_ = "none";
    std::string why_;
    std::unique_ptr<KmsgReader> kmsg_;
    std::unique_ptr<JournalReader> journal_;
    OomParser parser_;
};

}  // namespace corral
