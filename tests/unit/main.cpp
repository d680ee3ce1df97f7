#define CATCH_CONFIG_MAIN
// GCC 12 reports a false -Wmaybe-uninitialized inside <regex> (GCC bug 105562) when Catch's
// implementation is compiled with sanitizers; the warning is in the standard library, not in corral.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <catch2/catch.hpp>
#pragma GCC diagnostic pop
