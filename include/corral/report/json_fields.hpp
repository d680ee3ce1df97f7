// Reading the report document (report.json) back: fields that may be null or absent, with an error
// naming the field when one has the wrong type (a report from elsewhere, edited, or truncated).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace corral {

// j[key] as a number; nullopt when j is not an object, or the key is absent or null. Throws Error
// ("report field 'KEY' is a string, not a number") for any other type.
std::optional<double> field_number(const nlohmann::json& j, std::string_view key);
// j[key] as a string; "" when absent or null; Error for another type.
std::string field_string(const nlohmann::json& j, std::string_view key);
// j[key] as an array or object; a null json when absent or null; Error for a scalar.
const nlohmann::json& field_node(const nlohmann::json& j, std::string_view key);
// A limit as report.json writes it: a number of bytes; nullopt for null, absent or "infinity".
std::optional<std::uint64_t> field_limit_bytes(const nlohmann::json& limits, std::string_view key);

}  // namespace corral
