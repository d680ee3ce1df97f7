#include "corral/report/json_fields.hpp"

#include "corral/base/error.hpp"

namespace corral {

namespace {

const nlohmann::json& null_json() {
    static const nlohmann::json n;
    return n;
}

const nlohmann::json& lookup(const nlohmann::json& j, std::string_view key) {
    if (!j.is_object()) return null_json();
    auto it = j.find(key);
    return it == j.end() ? null_json() : *it;
}

[[noreturn]] void wrong_type(std::string_view key, const nlohmann::json& v, const char* want) {
    const std::string type = v.type_name();
    const bool vowel = std::string_view("aeiou").find(type[0]) != std::string_view::npos;
    throw Error("report field '" + std::string(key) + "' is " + (vowel ? "an " : "a ") + type + ", not " + want);
}

}  // namespace

std::optional<double> field_number(const nlohmann::json& j, std::string_view key) {
    const auto& v = lookup(j, key);
    if (v.is_null()) return std::nullopt;
    if (!v.is_number()) wrong_type(key, v, "a number");
    return v.get<double>();
}

std::string field_string(const nlohmann::json& j, std::string_view key) {
    const auto& v = lookup(j, key);
    if (v.is_null()) return {};
    if (!v.is_string()) wrong_type(key, v, "a string");
    return v.get<std::string>();
}

const nlohmann::json& field_node(const nlohmann::json& j, std::string_view key) {
    const auto& v = lookup(j, key);
    if (!v.is_null() && !v.is_structured()) wrong_type(key, v, "an array or object");
    return v;
}

std::optional<std::uint64_t> field_limit_bytes(const nlohmann::json& limits, std::string_view key) {
    const auto& v = lookup(limits, key);
    if (v.is_null() || (v.is_string() && v.get<std::string>() == "infinity")) return std::nullopt;
    if (!v.is_number_unsigned()) wrong_type(key, v, "a number of bytes or \"infinity\"");
    return v.get<std::uint64_t>();
}

}  // namespace corral
