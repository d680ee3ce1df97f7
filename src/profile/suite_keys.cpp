// The readers of the suite keys with a shape of their own: command, env, backend, the time limits
// (timeout, stall_timeout), on_timeout.
#include <strings.h>

#include <fmt/format.h>

#include "corral/profile/profile_yaml.hpp"

namespace corral::profile_yaml {

void read_command(const Ctx& ctx, const Found& f, SuiteSpec& s) {
    if (f.value.IsScalar()) {
        s.command_text = f.value.Scalar();
        if (s.command_text.find_first_not_of(" \t\r\n") == std::string::npos)
            ctx.fail(f, "empty command: expected a command line, found an empty string");
        s.argv = {"/bin/sh", "-c", s.command_text};
        s.shell = true;
        return;
    }
    if (!f.value.IsSequence()) ctx.expected(f, "a string (run by /bin/sh -c) or a list of arguments");
    s.argv = ctx.argv(f);
    s.shell = false;
    s.command_text = quote_argv(s.argv);
}

void read_env(const Ctx& ctx, const std::vector<Layer>& layers, SuiteSpec& s) {
    for (auto l = layers.rbegin(); l != layers.rend(); ++l) {
        auto env = find(l->map, "env", l->prefix);
        if (!env) continue;
        for (const auto& kv : env->value) {
            if (!kv.first.IsScalar())
                ctx.fail(kv.first, env->path, "expected a variable name, found " + describe(kv.first));
            const std::string& name = kv.first.Scalar();
            const Found var{kv.first, kv.second, join_path(env->path, name)};
            if (name.empty() || name.find('=') != std::string::npos)
                ctx.fail(kv.first, var.path,
                         fmt::format("expected a variable name without '=', found '{}'", name));
            s.env[name] = ctx.scalar(var, "a string");
        }
    }
}

BackendChoice read_backend(const Ctx& ctx, const Found& f) {
    std::string value = ctx.scalar(f, "a backend name");
    std::vector<std::string> names;
    for (BackendChoice b : {BackendChoice::Auto, BackendChoice::Cgroup, BackendChoice::SystemdScope}) {
        if (backend_choice_name(b) == value) return b;
        names.push_back(backend_choice_name(b));
    }
    ctx.fail(f, unknown("backend", value, names));
}

std::optional<Duration> read_time_limit(const Ctx& ctx, const Found& f) {
    if (f.value.IsScalar() && ::strcasecmp(f.value.Scalar().c_str(), "infinity") == 0) return std::nullopt;
    return ctx.duration(f);
}

void read_on_timeout(const Ctx& ctx, const Found& f, SuiteSpec& s, std::map<std::string, Found>& origin) {
    if (f.value.IsSequence()) {
        s.on_timeout = ctx.argv(f);
        return;
    }
    if (!f.value.IsMap()) ctx.expected(f, "a list of arguments or a map {command: [...], timeout: 10s}");
    auto command = find(f.value, "command", f.path);
    if (!command)
        ctx.fail(f.value, join_path(f.path, "command"),
                 "missing key 'command': expected a list of arguments");
    s.on_timeout = ctx.argv(*command);
    if (auto limit = find(f.value, "timeout", f.path)) {
        origin["on_timeout.timeout"] = *limit;
        s.on_timeout_limit = ctx.duration(*limit);
    }
}

}  // namespace corral::profile_yaml
