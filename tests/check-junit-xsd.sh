#!/bin/bash
# docs/junit.xsd can fail: a junit file in corral's format validates against it, and each broken
# variant of it (a required attribute missing, a verdict that is no failure type, a property corral
# does not write, an element out of order, a timestamp with a time zone) is rejected by xmllint.
# Usage: check-junit-xsd.sh SOURCE_DIR
set -u
src=${1:?usage: check-junit-xsd.sh SOURCE_DIR}
xsd=$src/docs/junit.xsd
command -v xmllint >/dev/null || { echo "FAIL: xmllint is not installed (Debian package libxml2-utils: make deps)"; exit 1; }
tmp=$(mktemp -d /tmp/corral-junit-xsd-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

good() {
  cat <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="corral" tests="2" failures="1" errors="0" skipped="0" time="1.500">
  <testsuite name="profiles/example.yaml" tests="2" failures="1" errors="0" skipped="0" time="1.500" timestamp="2026-11-29T17:28:39" hostname="ci">
    <testcase name="unit" classname="example" time="0.500">
      <properties>
        <property name="corral.verdict" value="passed"/>
        <property name="corral.peak_bytes" value="909312"/>
        <property name="corral.memory_max_bytes" value="67108864"/>
        <property name="corral.oom_kills" value="0"/>
        <property name="corral.exit_code" value="0"/>
        <property name="corral.backend" value="cgroup-v1"/>
      </properties>
      <system-out>ok</system-out>
      <system-err></system-err>
    </testcase>
    <testcase name="oom" classname="example" time="1.000">
      <properties>
        <property name="corral.verdict" value="oom-killed"/>
        <property name="corral.peak_bytes" value="67108864"/>
        <property name="corral.memory_max_bytes" value="67108864"/>
        <property name="corral.oom_kills" value="1"/>
        <property name="corral.exit_code" value=""/>
        <property name="corral.backend" value="cgroup-v1"/>
      </properties>
      <failure message="OOM-killed" type="oom-killed">OOM-killed</failure>
      <system-out>allocated 8 MiB</system-out>
    </testcase>
  </testsuite>
</testsuites>
XML
}

fails=0
check() {  # check NAME EXPECT(valid|invalid) SED-EXPRESSION
  local name=$1 expect=$2 expr=$3
  good | sed -e "$expr" >"$tmp/$name.xml"
  if xmllint --noout --schema "$xsd" "$tmp/$name.xml" >"$tmp/$name.log" 2>&1; then got=valid; else got=invalid; fi
  if [ "$got" = "$expect" ]; then
    echo "ok: $name is $got"
  else
    echo "FAIL: $name: expected $expect, xmllint says $got:"; sed 's/^/    /' "$tmp/$name.log"; fails=$((fails + 1))
  fi
}

check corral-format valid ''
check no-hostname invalid 's/ hostname="ci"//'
check failure-type-not-a-verdict invalid 's/type="oom-killed"/type="AssertionError"/'
check error-for-a-failure invalid 's/<failure \(.*\)<\/failure>/<error \1<\/error>/'
check unknown-property invalid 's/corral.backend/corral.colour/'
check timestamp-with-zone invalid 's/17:28:39"/17:28:39Z"/'
check negative-time invalid 's/time="0.500"/time="-1"/'
check output-before-properties invalid '/<system-out>ok/d; s|<testcase name="unit" classname="example" time="0.500">|&<system-out>x</system-out>|'
check not-xml invalid 's/<\/testsuites>//'
[ "$fails" = 0 ] || exit 1
