// Errors: one exception type with context prepended as it travels up, printed once at the top.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace corral {

// Any failure corral reports. The message reads "context: context: root cause".
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Bad command line or profile: nothing was run, exit status 2.
class UsageError : public Error {
public:
    using Error::Error;
};

// A failed system call; keeps errno so callers can turn it into advice.
class SysError : public Error {
public:
    SysError(const std::string& what, int err);
    // A message that already carries the errno text (used when adding context).
    struct Preformatted {};
    SysError(Preformatted, const std::string& text, int err) : Error(text), err_(err) {}
    int code() const noexcept { return err_; }

private:
    int err_;
};

std::string errno_text(int err);

// Throws SysError("<what>: <strerror(err)>").
[[noreturn]] void throw_errno(const std::string& what, int err = errno);

// Re-throws the current exception with "ctx: " prepended, keeping its type (Error, UsageError, SysError).
[[noreturn]] void rethrow_with_context(const std::string& ctx);

// Runs fn(); any corral::Error escaping it gets "ctx: " prepended.
template <class F>
auto with_context(const std::string& ctx, F&& fn) -> decltype(fn()) {
    try {
        return fn();
    } catch (const Error&) {
        rethrow_with_context(ctx);
    }
}

}  // namespace corral
