// Text from a suite (output lines, names, commands) made safe for HTML and SVG/XML.
#pragma once

#include <string>
#include <string_view>

namespace corral {

// s with & < > " ' escaped as character references. Bytes that are not valid UTF-8, and control
// characters other than tab, newline and carriage return (which XML 1.0 refuses), become U+FFFD:
// whatever a suite printed, the page and the standalone SVG stay well-formed.
std::string xml_escape(std::string_view s);

// A number for an SVG attribute: at most one decimal, no trailing ".0" ("12", "12.5", "-3").
std::string svg_num(double v);

}  // namespace corral
