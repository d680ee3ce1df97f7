#include "corral/base/error.hpp"

#include <cstring>

namespace corral {

SysError::SysError(const std::string& what, int err) : Error(what + ": " + errno_text(err)), err_(err) {}

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns the message pointer (may not use buf).
    return ::strerror_r(err, buf, sizeof buf);
}

void throw_errno(const std::string& what, int err) { throw SysError(what, err); }

void rethrow_with_context(const std::string& ctx) {
    try {
        throw;
    } catch (const SysError& e) {
        throw SysError(SysError::Preformatted{}, ctx + ": " + e.what(), e.code());
    } catch (const UsageError& e) {
        throw UsageError(ctx + ": " + e.what());
    } catch (const Error& e) {
        throw Error(ctx + ": " + e.what());
    }
}

}  // namespace corral
