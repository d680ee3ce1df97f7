#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <string>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/oom/journal.hpp"
#include "corral/oom/kmsg.hpp"

using namespace corral;
using Catch::Matchers::Contains;

namespace {

// Logs `text` through /dev/kmsg. The trailing newline matters: without it the kernel keeps the
// record open for a continuation and readers do not see it yet.
void write_kmsg(const std::string& text) {
    UniqueFd fd(::open("/dev/kmsg", O_WRONLY | O_CLOEXEC));
    if (!fd) throw_errno("open /dev/kmsg for writing");
    std::string line = text + "\n";
    if (::write(fd.get(), line.data(), line.size()) < 0) throw_errno("write /dev/kmsg");
}

// Reads from `reader` until a line with exactly `text` arrives or 3 s pass.
std::optional<KernelLine> wait_for_line(KmsgReader& reader, const std::string& text,
                                        std::vector<std::string>& seen) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{reader.fd(), POLLIN, 0};
        ::poll(&p, 1, 200);
        for (auto& l : reader.read_available()) {
            seen.push_back(l.text);
            if (l.text == text) return l;
        }
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("KmsgReader reads a line logged after it was opened, and none from before", "[host][kmsg]") {
    // The host tier's main() already refuses to run without root: writing to /dev/kmsg needs it.
    std::random_device rd;
    std::string token = std::to_string(rd()) + "-" + std::to_string(::getpid());
    std::string before = "corral-kmsg-test before " + token;
    std::string after = "corral-kmsg-test " + token;

    write_kmsg(before);
    KmsgReader reader;
    CHECK(reader.fd() >= 0);
    write_kmsg(after);

    std::vector<std::string> seen;
    auto line = wait_for_line(reader, after, seen);
    INFO("lines read: " << seen.size());
    REQUIRE(line);
    CHECK(line->priority >= 0);
    CHECK(line->priority <= 7);
    CHECK(line->seq > 0);
    CHECK(line->mono_us > 0);
    for (const auto& t : seen) CHECK(t != before);
    for (const auto& l : reader.read_available()) CHECK(l.text != after);  // never read twice
}

TEST_CASE("JournalReader: available() says whether journald runs, and without it construction fails clearly",
          "[host][kmsg][journal]") {
    if (JournalReader::available()) {
        JournalReader j;
        CHECK(j.fd() >= 0);
        CHECK_NOTHROW(j.read_available());
        CHECK_NOTHROW(j.unit_messages("corral-no-such-unit.scope"));
    } else {
        CHECK_THROWS_AS(JournalReader(), Error);
        CHECK_THROWS_WITH(JournalReader(), Contains("journald is not running") &&
                                               Contains("/run/systemd/journal/socket") &&
                                               Contains("/dev/kmsg"));
    }
}
