"""validate-report.py - checks corral reports against docs/report-schema.json (JSON Schema 2020-12)
with Debian's python3-jsonschema (Draft202012Validator).  Run it with /usr/bin/python3 -I.

usage: validate-report.py SCHEMA REPORT...   each REPORT (a report.json)
       validate-report.py SCHEMA --serve     the paths of reports, one a line on stdin; for each,
                                             its errors (if any) then a line "." on stdout: the host
                                             tests' harness keeps one running (tests/host/report_schema.cpp)

Each error is one line: the report's path, the JSON path of the value that does not match (as
$.suites[0].memory) and what is wrong, e.g. "Additional properties are not allowed ('stalled' was
unexpected)": a field added to the report must be added to the schema too.

exit status: 0 every report matches; 1 a report does not (or cannot be read); 2 usage, or the schema
or jsonschema cannot be loaded.
"""
import json
import sys

MAX_ERRORS = 20  # per report; the count of the rest is printed


def fail(msg):
    print(f"validate-report.py: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    from jsonschema import Draft202012Validator
except ImportError as e:
    fail(f"{e}: install Debian's python3-jsonschema (`make deps`)")


def errors_of(validator, path):
    """The report's errors as lines; [] when it matches."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return [f"{path}: cannot be read as JSON: {e}"]
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    lines = []
    for e in errors[:MAX_ERRORS]:
        line = f"{path}: {e.json_path}: {e.message}"
        # anyOf/oneOf: say why each alternative did not match.
        for sub in e.context or []:
            line += f"\n    ({sub.json_path}: {sub.message})"
        lines.append(line)
    if len(errors) > MAX_ERRORS:
        lines.append(f"{path}: … {len(errors) - MAX_ERRORS} more errors")
    return lines


def main(argv):
    if len(argv) < 3:
        fail("usage: validate-report.py SCHEMA REPORT... | validate-report.py SCHEMA --serve")
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except Exception as e:  # noqa: BLE001  (any failure: the schema cannot be used)
        fail(f"the schema {argv[1]} cannot be used: {e}")
    validator = Draft202012Validator(schema)
    if argv[2:] == ["--serve"]:
        for line in sys.stdin:
            for err in errors_of(validator, line.rstrip("\n")):
                print(err)
            print(".", flush=True)
        return 0
    bad = 0
    for path in argv[2:]:
        lines = errors_of(validator, path)
        for err in lines:
            print(err)
        bad += bool(lines)
    return 1 if bad else 0


sys.exit(main(sys.argv))
