// The report document: report.json read back (by `corral show`, on this machine or another), and
// its fields read with errors that name their JSON path, so that a document from another version
// of corral or a damaged one gives a message a person can act on, not a library exception.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace corral {

// A report document and where it came from.
struct ReportDocument {
    nlohmann::json doc;
    std::string file;  // the report.json read
    std::string dir;   // the directory holding it (the suites' output files are relative to it)
};

// PATH is a report.json, or a directory holding one (DIR/report.json). Throws Error naming the file:
// missing or unreadable (with the errno text), not JSON (with the byte, line and column nlohmann
// reports), not an object with a `schema` this corral knows (saying which it knows).
ReportDocument load_report_document(const std::string& path);

// Throws Error unless doc is an object whose `schema` is one this corral reads (kReportSchema).
void check_report_schema(const nlohmann::json& doc);

// A field of the document at its JSON pointer. Every accessor throws Error
// "/suites/3/verdict: expected a string, found 3" when the field is missing or of another type.
class DocField {
public:
    explicit DocField(const nlohmann::json& j, std::string path = {}) : j_(&j), path_(std::move(path)) {}

    DocField operator[](std::string_view key) const;  // a member of an object
    DocField operator[](std::size_t i) const;         // an element of an array
    std::size_t size() const;                         // of an array
    bool has(std::string_view key) const;             // an object with that member
    bool is_null() const { return j_->is_null(); }
    std::string str() const;
    std::uint64_t u64() const;
    double num() const;
    bool boolean() const;
    std::optional<std::uint64_t> opt_u64() const;  // null: nullopt
    std::optional<std::string> opt_str() const;    // null: nullopt
    const nlohmann::json& json() const { return *j_; }
    const std::string& path() const { return path_; }
    [[noreturn]] void fail(const std::string& what) const;

private:
    const nlohmann::json* j_;
    std::string path_;
};

}  // namespace corral
