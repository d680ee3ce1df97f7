// Every report.json the host and systemd tiers read (load_report) is checked against
// docs/report-schema.json by tests/validate-report.py, run by Debian's /usr/bin/python3 with
// python3-jsonschema: one validator process per test process, started at its first report and
// handed the path of each next one, so a test pays Python's start-up once. With
// CORRAL_REPORT_SCHEMA_DEFER=DIR (the vm driver sets it) each report is copied into DIR instead, for
// the driver to validate at the end.
#pragma once

#include <string>

namespace host {

// Throws std::runtime_error with each error (the JSON path of the value and what is wrong) when the
// report does not match the schema, or saying why it could not be checked (no python3-jsonschema).
void check_report_schema(const std::string& report_json);

}  // namespace host
