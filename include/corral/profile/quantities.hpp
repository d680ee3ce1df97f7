// Sizes ("512M", "2G", "infinity") and durations ("250ms", "90s", "1h30m").
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace corral {

using Duration = std::chrono::microseconds;

// Byte count meaning "no limit".
inline constexpr std::uint64_t kInfinity = std::numeric_limits<std::uint64_t>::max();

// Plain bytes or a binary suffix K/M/G/T (also KiB/MiB/…, KB/MB/… as binary, case-insensitive),
// an optional fraction ("1.5G"), or "infinity"/"max". Throws std::invalid_argument whose
// what() says what was expected, e.g. "expected a size such as 512M, 2G or infinity".
std::uint64_t parse_size(std::string_view text);

// One or more <number><unit> parts, unit in us, ms, s, m, h, d: "250ms", "90s", "1h30m", "1.5s".
// A bare number is rejected (ambiguous). Throws std::invalid_argument as parse_size.
Duration parse_duration(std::string_view text);

// "256 MiB", "1.5 GiB", "512 B", "infinity".
std::string format_bytes(std::uint64_t bytes);
// "250ms", "1.5s", "2m30s".
std::string format_duration(Duration d);
double to_seconds(Duration d);
// A wall-clock duration in seconds for people: "350ms", "1.23s", "12.5s", "2m30s".
std::string format_seconds(double s);

}  // namespace corral
