// The report's name of each marker kind (memory.growth.marker_kind). Kept apart from the detector
// (markers.cpp) so that the growth analysis can name a kind on its own.
#include "corral/report/markers.hpp"

namespace corral {

std::string marker_kind_name(MarkerKind k) {
    switch (k) {
        case MarkerKind::Pytest:
            return "pytest";
        case MarkerKind::Unittest:
            return "unittest";
        case MarkerKind::Ctest:
            return "ctest";
        case MarkerKind::Go:
            return "go";
        case MarkerKind::Cargo:
            return "cargo";
        case MarkerKind::Gtest:
            return "gtest";
        case MarkerKind::Counter:
            return "counter";
        case MarkerKind::Regex:
            return "regex";
    }
    return "regex";
}

}  // namespace corral
