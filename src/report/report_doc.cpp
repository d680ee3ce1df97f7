#include "corral/report/report_doc.hpp"

#include <fmt/format.h>

#include <filesystem>

#include "corral/base/error.hpp"
#include "corral/base/fd.hpp"
#include "corral/report/report.hpp"

namespace corral {

using nlohmann::json;

namespace {

// "[json.exception.parse_error.101] parse error at line 2, …" without the library's tag.
std::string without_tag(const std::string& what) {
    if (!what.empty() && what.front() == '[') {
        auto end = what.find("] ");
        if (end != std::string::npos) return what.substr(end + 2);
    }
    return what;
}

// A JSON pointer's reference token (RFC 6901: '~' is "~0", '/' is "~1").
std::string pointer_token(std::string_view key) {
    std::string out;
    for (char c : key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

// What a value is, for messages: "a string", or the value itself when it is short.
std::string found(const json& j) {
    if (j.is_object()) return "an object";
    if (j.is_array()) return "an array";
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    return text.size() <= 40 ? text : fmt::format("a {} ({}…)", j.type_name(), text.substr(0, 40));
}

}  // namespace

void check_report_schema(const json& doc) {
    if (!doc.is_object()) throw Error(fmt::format("not a corral report: the document is {}, not an object", found(doc)));
    auto it = doc.find("schema");
    if (it == doc.end())
        throw Error(fmt::format("not a corral report: it has no 'schema' field (this corral reads {})", kReportSchema));
    if (!it->is_string() || it->get<std::string>() != kReportSchema)
        throw Error(fmt::format("unknown report schema {}: this corral reads {} only", found(*it), kReportSchema));
}

ReportDocument load_report_document(const std::string& path) {
    namespace fs = std::filesystem;
    ReportDocument d;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        d.dir = path;
        d.file = (fs::path(path) / "report.json").string();
    } else {
        d.file = path;
        d.dir = fs::path(path).parent_path().string();
    }
    const std::string text = with_context("reading the report", [&] { return read_file(d.file); });
    try {
        d.doc = json::parse(text);
    } catch (const json::parse_error& e) {
        throw Error(fmt::format("{} is not valid JSON (byte {}): {}", d.file, e.byte, without_tag(e.what())));
    }
    with_context(d.file, [&] { check_report_schema(d.doc); });
    return d;
}

void DocField::fail(const std::string& what) const {
    throw Error(fmt::format("report field {}: {}", path_.empty() ? "/" : path_, what));
}

DocField DocField::operator[](std::string_view key) const {
    if (!j_->is_object()) fail(fmt::format("expected an object with '{}', found {}", key, found(*j_)));
    auto it = j_->find(key);
    std::string p = path_ + "/" + pointer_token(key);
    if (it == j_->end()) throw Error(fmt::format("report field {}: missing", p));
    return DocField(*it, std::move(p));
}

DocField DocField::operator[](std::size_t i) const {
    if (!j_->is_array()) fail(fmt::format("expected an array, found {}", found(*j_)));
    if (i >= j_->size()) fail(fmt::format("has {} elements, not {}", j_->size(), i + 1));
    return DocField((*j_)[i], fmt::format("{}/{}", path_, i));
}

std::size_t DocField::size() const {
    if (!j_->is_array()) fail(fmt::format("expected an array, found {}", found(*j_)));
    return j_->size();
}

bool DocField::has(std::string_view key) const { return j_->is_object() && j_->contains(key); }

std::string DocField::str() const {
    if (!j_->is_string()) fail(fmt::format("expected a string, found {}", found(*j_)));
    return j_->get<std::string>();
}

std::uint64_t DocField::u64() const {
    const bool non_negative =
        j_->is_number_unsigned() || (j_->is_number_integer() && j_->get<std::int64_t>() >= 0);
    if (!non_negative) fail(fmt::format("expected a non-negative integer, found {}", found(*j_)));
    return j_->get<std::uint64_t>();
}

double DocField::num() const {
    if (!j_->is_number()) fail(fmt::format("expected a number, found {}", found(*j_)));
    return j_->get<double>();
}

bool DocField::boolean() const {
    if (!j_->is_boolean()) fail(fmt::format("expected true or false, found {}", found(*j_)));
    return j_->get<bool>();
}

std::optional<std::uint64_t> DocField::opt_u64() const {
    if (j_->is_null()) return std::nullopt;
    return u64();
}

std::optional<std::string> DocField::opt_str() const {
    if (j_->is_null()) return std::nullopt;
    return str();
}

}  // namespace corral
