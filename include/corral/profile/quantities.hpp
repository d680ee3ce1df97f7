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

// A CPU quota as the kernel takes it: quota_us of CPU time in every period_us of wall time. Every
// backend writes it from this one conversion (v1 cpu.cfs_quota_us/cfs_period_us, v2 cpu.max, systemd
// CPUQuotaPerSecUSec).
struct CpuQuota {
    std::uint64_t quota_us = 0;
    std::uint64_t period_us = 0;
    std::uint64_t per_sec_usec() const;  // CPU time per second of wall time (systemd's CPUQuotaPerSecUSec)
};
inline constexpr std::uint64_t kCpuPeriodUs = 100'000;  // the kernel's default CFS period
// The kernel refuses a quota below 1 ms per period, and above 2^44-1 µs (kernel/sched/core.c:
// min_cfs_quota_period, max_cfs_runtime): as a percentage of one CPU over a 100 ms period, 1% and
// about 17.6 billion %.
inline constexpr std::uint64_t kCpuQuotaMinUs = 1'000;
inline constexpr std::uint64_t kCpuQuotaMaxUs = (std::uint64_t{1} << 44) - 1;
double cpu_quota_min_percent();
double cpu_quota_max_percent();
// 150 (% of one CPU) → {150'000, 100'000}. Throws std::invalid_argument, saying the range, for a
// percentage that is not finite or that the kernel would refuse.
CpuQuota cpu_quota_from_percent(double percent);

// "256 MiB", "1.5 GiB", "512 B", "infinity".
std::string format_bytes(std::uint64_t bytes);
// "250ms", "1.5s", "2m30s".
std::string format_duration(Duration d);
double to_seconds(Duration d);
// A wall-clock duration in seconds for people: "350ms", "1.23s", "12.5s", "2m30s".
std::string format_seconds(double s);

}  // namespace corral
