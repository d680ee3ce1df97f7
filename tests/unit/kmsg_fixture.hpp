// Kernel log fixtures (tests/fixtures/oom/*.txt) for the unit tests.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "corral/base/fd.hpp"
#include "corral/oom/oom_record.hpp"

namespace fixture {

inline const std::string kOomFixtures = std::string(CORRAL_FIXTURES_DIR) + "/oom/";

// A fixture holds /dev/kmsg records one per line; lines starting with a space are the previous
// record's continuation lines (" SUBSYSTEM=…"), as read(2) on /dev/kmsg returns them; lines starting
// with '#' are the fixture's own comments (where it came from).
inline std::vector<corral::KernelLine> load_kmsg(const std::string& name) {
    std::string text = corral::read_file(kOomFixtures + name);
    std::vector<std::string> records;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        if (!line.empty() && line[0] == '#') continue;
        if (!line.empty() && line[0] == ' ' && !records.empty())
            records.back() += line + "\n";
        else if (!line.empty())
            records.push_back(line + "\n");
    }
    std::vector<corral::KernelLine> out;
    for (const auto& r : records) {
        auto parsed = corral::parse_kmsg_record(r);
        INFO(name << ": record " << r);
        REQUIRE(parsed);
        out.push_back(*parsed);
    }
    return out;
}

// The fixture's records through an OomParser.
inline std::vector<corral::OomRecord> parse_kmsg(const std::string& name) {
    corral::OomParser p;
    for (const auto& l : load_kmsg(name)) p.feed(l);
    return p.take_complete();
}

}  // namespace fixture
