// Pure pieces of the systemd scope backend: unit names, the unknown-property retry rule.
#include <catch2/catch.hpp>

#include "corral/box/systemd_scope.hpp"
#include "corral/profile/profile.hpp"

using namespace corral;

TEST_CASE("scope unit names carry the suite and the run id", "[systemd]") {
    CHECK(scope_unit_name("unit", "1a2b3c4d") == "corral-unit-1a2b3c4d.scope");
    CHECK(scope_unit_name("my-suite", "00ff00ff") == "corral-my-suite-00ff00ff.scope");
}

TEST_CASE("unknown_property_in finds the property an older systemd refuses", "[systemd]") {
    // systemd 252 for OOMPolicy= on a scope, and for PIDFDs=:
    CHECK(unknown_property_in("org.freedesktop.DBus.Error.PropertyReadOnly",
                              "Cannot set property OOMPolicy, or unknown property.") == std::optional<std::string>("OOMPolicy"));
    CHECK(unknown_property_in("org.freedesktop.DBus.Error.PropertyReadOnly",
                              "Cannot set property PIDFDs, or unknown property.") == std::optional<std::string>("PIDFDs"));
    CHECK(unknown_property_in("org.freedesktop.DBus.Error.UnknownProperty", "Unknown property PIDFDs") ==
          std::optional<std::string>("PIDFDs"));
    // Other errors are not retried.
    CHECK_FALSE(unknown_property_in("org.freedesktop.systemd1.UnitExists", "Unit corral-x.scope already exists."));
    CHECK_FALSE(unknown_property_in("org.freedesktop.DBus.Error.AccessDenied", "Access denied"));
    CHECK_FALSE(unknown_property_in("org.freedesktop.DBus.Error.UnknownProperty", "Unknown property Foo"));
}

TEST_CASE("backend names for --backend", "[systemd]") {
    CHECK(parse_backend_choice("auto") == BackendChoice::Auto);
    CHECK(parse_backend_choice("cgroup") == BackendChoice::Cgroup);
    CHECK(parse_backend_choice("systemd-scope") == BackendChoice::SystemdScope);
    CHECK_THROWS_WITH(parse_backend_choice("scope"), Catch::Contains("expected auto, cgroup or systemd-scope"));
}
