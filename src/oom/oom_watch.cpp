#include "corral/oom/oom_watch.hpp"

#include "corral/base/error.hpp"

namespace corral {

OomSourceChoice parse_oom_source(const std::string& text) {
    if (text == "auto") return OomSourceChoice::Auto;
    if (text == "kmsg") return OomSourceChoice::Kmsg;
    if (text == "journal") return OomSourceChoice::Journal;
    if (text == "none") return OomSourceChoice::None;
    throw UsageError("--oom-source '" + text + "': expected auto, kmsg, journal or none");
}

OomWatch::OomWatch(OomSourceChoice choice) {
    if (choice == OomSourceChoice::None) {
        why_ = "--oom-source none";
        return;
    }
    bool journal = choice == OomSourceChoice::Journal ||
                   (choice == OomSourceChoice::Auto && JournalReader::available());
    try {
        if (journal) {
            journal_ = std::make_unique<JournalReader>();
            source_ = "journal";
        } else {
            kmsg_ = std::make_unique<KmsgReader>();
            source_ = "kmsg";
        }
        parser_ = OomParser(source_);
    } catch (const Error& e) {
        if (choice != OomSourceChoice::Auto) throw;
        source_ = "none";
        why_ = std::string("no kernel OOM records: ") + e.what();
    }
}

OomWatch::~OomWatch() = default;

int OomWatch::fd() const noexcept {
    if (kmsg_) return kmsg_->fd();
    if (journal_) return journal_->fd();
    return -1;
}

std::vector<OomRecord> OomWatch::poll() {
    std::vector<KernelLine> lines;
    if (kmsg_) lines = kmsg_->read_available();
    if (journal_) lines = journal_->read_available();
    for (const auto& l : lines) parser_.feed(l);
    return parser_.take_complete();
}

std::optional<std::vector<std::string>> OomWatch::unit_messages(const std::string& unit) {
    if (!journal_) return std::nullopt;
    return journal_->unit_messages(unit);
}

std::uint64_t OomWatch::lost() const noexcept { return kmsg_ ? kmsg_->lost_count() : 0; }

}  // namespace corral
