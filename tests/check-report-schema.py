"""check-report-schema.py SOURCE_DIR - the unit tier's check of docs/report-schema.json, run with
/usr/bin/python3 -I: tests/validate-report.py accepts the reports of real runs in
tests/fixtures/reports/ (the example profile, a split run, an OOM storm), and rejects each of a few
copies changed the way a report must never differ from the schema, naming the value's JSON path:
a field the schema does not have (top level, suite, OOM record), a field missing, a verdict it does
not know, a value of another type, a sample row of another shape.

exit status: 0 all as expected; 1 otherwise (each difference said).
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

src = sys.argv[1]
validator = os.path.join(src, "tests", "validate-report.py")
schema = os.path.join(src, "docs", "report-schema.json")
problems = []


def validate(paths):
    r = subprocess.run([sys.executable, "-I", validator, schema, *paths], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


fixtures = sorted(glob.glob(os.path.join(src, "tests", "fixtures", "reports", "*", "report.json")))
if len(fixtures) < 3:
    problems.append(f"expected the 3 fixture reports, found {fixtures}")
rc, out = validate(fixtures)
print(f"{len(fixtures)} fixture reports: exit status {rc}")
if rc != 0:
    problems.append(f"the fixture reports do not match the schema:\n{out}")

example = json.load(open(os.path.join(src, "tests", "fixtures", "reports", "example", "report.json")))


def drop(path):
    def f(d):
        *parents, last = path
        for p in parents:
            d = d[p]
        del d[last]
    return f


def put(path, value):
    def f(d):
        *parents, last = path
        for p in parents:
            d = d[p]
        d[last] = value
    return f


# (what, change, the line the validator must print)
cases = [
    ("a top-level field the schema lacks", put(["runner"], {"name": "ci-1"}),
     "$: Additional properties are not allowed ('runner' was unexpected)"),
    ("a suite field the schema lacks", put(["suites", 0, "stuck"], False),
     "$.suites[0]: Additional properties are not allowed ('stuck' was unexpected)"),
    ("an OOM record field the schema lacks", put(["suites", 1, "oom", "records", 0, "cgroup"], "x"),
     "$.suites[1].oom.records[0]: Unevaluated properties are not allowed ('cgroup' was unexpected)"),
    ("a field missing", drop(["suites", 2, "memory", "peak_sample"]),
     "$.suites[2].memory: 'peak_sample' is a required property"),
    ("a verdict it does not know", put(["suites", 1, "verdict"], "exploded"),
     "$.suites[1].verdict: 'exploded' is not one of"),
    ("a string for a number", put(["suites", 0, "duration_s"], "1s"),
     "$.suites[0].duration_s: '1s' is not of type 'number'"),
    ("a sample row of two values", put(["suites", 0, "memory", "samples", 0], [0.1, 5]),
     "$.suites[0].memory.samples[0]: [0.1, 5] is too short"),
    ("another schema", put(["schema"], "corral-report/2"),
     "$.schema: 'corral-report/1' was expected"),
]
with tempfile.TemporaryDirectory(prefix="corral-schema-") as tmp:
    paths = []
    for i, (what, change, expected) in enumerate(cases):
        doc = copy.deepcopy(example)
        change(doc)
        paths.append(os.path.join(tmp, f"{i}.json"))
        with open(paths[-1], "w") as f:
            json.dump(doc, f)
    rc, out = validate(paths)  # one validator for all of them: Python's start-up once
    if rc != 1:
        problems.append(f"exit status {rc} for reports that do not match, not 1:\n{out}")
    for path, (what, _, expected) in zip(paths, cases):
        ok = f"{path}: {expected}" in out
        print(f"{'rejected' if ok else 'NOT REJECTED AS EXPECTED'}: {what}")
        if not ok:
            problems.append(f"{what}: expected '{path}: {expected}' in:\n{out}")
for p in problems:
    print("check-report-schema:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
