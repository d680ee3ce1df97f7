// junit.xml (the Jenkins/Ant JUnit format, docs/junit.xsd), rendered from the report document (the
// JSON that report.json holds) and the suites' output files in the report directory.
//
// One <testsuite> per profile file (the ad-hoc suite: one named "command line"), a <testcase> per
// suite (each batch of a split suite is one, and a batch fail_fast kept from running is one with
// <skipped>); <failure> for failed, oom-killed, timeout, signaled and interrupted, <error> for
// launch-error; per-testcase <properties> corral.*; <system-out>/<system-err> with the end of each
// stream, ANSI sequences stripped and characters XML 1.0 does not allow removed.
//
// GitLab takes a JUnit file under 30 MB. The file stays under kJunitMaxFileBytes by construction:
// every piece of free text has a cap on its escaped size (names, messages, failure bodies), the
// skeleton of a testcase and a testsuite is bounded, and each stream's tail gets an equal share of
// what is left, at most kJunitTailBytes. When that share is smaller (many suites), the file says so.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace corral {

inline constexpr std::size_t kJunitTailBytes = 64 * 1024;       // per stream, as written (escaped)
inline constexpr std::size_t kJunitMaxFileBytes = 29'000'000;  // GitLab: < 30 MB a file

// The caps one rendering uses, from the number of testcases and testsuites.
struct JunitCaps {
    std::size_t tail = kJunitTailBytes;  // escaped bytes of each <system-out>/<system-err>
    std::size_t name = 256;              // a name, classname, hostname, backend
    std::size_t message = 1024;          // the failure/error message attribute
    std::size_t body = 4096;             // the failure/error text (explanation and notes)
    bool shrunk = false;                 // tail < kJunitTailBytes to stay under kJunitMaxFileBytes
};
// Fixed parts' bound per testcase / testsuite / file, with their caps (for the size bound).
inline constexpr std::size_t kJunitCaseFixedBytes = 12 * 1024;
inline constexpr std::size_t kJunitSuiteFixedBytes = 1024;
inline constexpr std::size_t kJunitFileFixedBytes = 2048;
// Throws Error when even tails of 0 bytes cannot keep the file under kJunitMaxFileBytes.
JunitCaps junit_caps(std::size_t testcases, std::size_t testsuites);

// Text as XML 1.0 character data: invalid UTF-8 bytes become U+FFFD, characters XML 1.0 does not
// allow (C0 controls but tab, LF and CR; U+FFFE, U+FFFF; surrogates) are removed; & < > escaped
// (and " tab LF CR as character references when attr: attribute values keep them so).
std::string xml_escape(std::string_view text, bool attr = false);
// xml_escape, cut to at most max_bytes escaped bytes: the start kept (with "…" after a cut), or,
// keep_end, the end kept; never inside a character or an entity.
std::string xml_escape_capped(std::string_view text, std::size_t max_bytes, bool attr = false, bool keep_end = false);

// The whole junit.xml. Throws Error naming the field when the report lacks one it needs.
std::string render_junit(const nlohmann::json& report, const std::filesystem::path& dir);

}  // namespace corral
