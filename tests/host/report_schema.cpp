#include "report_schema.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "corral/base/fd.hpp"
#include "harness.hpp"

namespace host {

namespace {

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, never one from PATH

// tests/validate-report.py --serve over a socket pair: a path a line in, its errors and a line "."
// out. Its stderr comes on the same socket, so a validator that cannot start says why.
class Validator {
public:
    Validator() {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
        sock_.reset(sv[0]);
        corral::UniqueFd theirs(sv[1]);
        const std::string script = source_dir() + "/tests/validate-report.py";
        const std::string schema = source_dir() + "/docs/report-schema.json";
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
        if (pid_ == 0) {
            ::dup2(theirs.get(), 0);
            ::dup2(theirs.get(), 1);
            ::dup2(theirs.get(), 2);
            ::execl(kPython, kPython, "-I", script.c_str(), schema.c_str(), "--serve", static_cast<char*>(nullptr));
            const std::string msg = std::string("exec ") + kPython + ": " + std::strerror(errno) + "\n";
            [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
            ::_exit(127);
        }
    }
    ~Validator() {
        sock_.reset();  // end of its input: it exits
        if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    }
    Validator(const Validator&) = delete;
    Validator& operator=(const Validator&) = delete;

    // The validator's lines for one report ("" when it matches); throws when the validator ended.
    std::string check(const std::string& path) {
        const std::string line = path + "\n";
        for (std::size_t off = 0; off < line.size();) {
            ssize_t n = ::send(sock_.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) ended("");
            off += static_cast<std::size_t>(n);
        }
        std::string reply;
        for (;;) {
            if (reply == ".\n") return "";
            if (reply.size() >= 3 && reply.compare(reply.size() - 3, 3, "\n.\n") == 0)
                return reply.substr(0, reply.size() - 2);
            char buf[4096];
            ssize_t n = ::read(sock_.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) ended(reply);
            reply.append(buf, static_cast<std::size_t>(n));
        }
    }

private:
    [[noreturn]] void ended(const std::string& said) {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        throw std::runtime_error("the report validator (" + std::string(kPython) + " -I tests/validate-report.py) ended" +
                                 (WIFEXITED(status) ? " with exit status " + std::to_string(WEXITSTATUS(status)) : "") +
                                 (said.empty() ? std::string() : ": " + said) +
                                 " (Debian's python3-jsonschema is needed: `make deps`)");
    }

    corral::UniqueFd sock_;
    pid_t pid_ = -1;
};

}  // namespace

void check_report_schema(const std::string& report_json) {
    // In the test VM Python's start-up (jsonschema's import) takes 2-3 s under TCG, a test process:
    // there the driver sets CORRAL_REPORT_SCHEMA_DEFER=DIR, each report is copied into DIR, and the
    // driver validates them all with one validator at the end, naming the test case of each
    // (tests/vm/host-tests-driver.sh).
    if (const char* defer = std::getenv("CORRAL_REPORT_SCHEMA_DEFER"); defer && *defer) {
        static int copied = 0;
        std::filesystem::create_directories(defer);
        std::filesystem::copy_file(report_json, std::string(defer) + "/" + std::to_string(++copied) + ".json",
                                   std::filesystem::copy_options::overwrite_existing);
        return;
    }
    static std::unique_ptr<Validator> validator;
    if (!validator) validator = std::make_unique<Validator>();
    std::string errors;
    try {
        errors = validator->check(std::filesystem::absolute(report_json).string());
    } catch (...) {
        validator.reset();  // the next report starts a new one
        throw;
    }
    if (!errors.empty())
        throw std::runtime_error(report_json + " does not match docs/report-schema.json (a field added to the "
                                 "report goes into the schema too):\n" + errors);
}

}  // namespace host
