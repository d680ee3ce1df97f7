#!/usr/bin/env bash
# Runs `corral check` on every profile in profiles/ and fails when any is rejected (or when there is
# none). First it makes sure check can fail here: a profile with an unknown key must be rejected.
set -euo pipefail
corral=${1:?usage: check-profiles.sh CORRAL_BIN PROFILES_DIR}
dir=${2:?usage: check-profiles.sh CORRAL_BIN PROFILES_DIR}
bad=$(mktemp --suffix=.yaml)
trap 'rm -f "$bad"' EXIT
printf 'command: [true]\nmarkers: {patern: "x(y)"}\n' >"$bad"
if "$corral" check "$bad" >/dev/null 2>&1; then
    echo "check-profiles: corral check accepted a profile with an unknown key ($bad)" >&2
    exit 1
fi
shopt -s nullglob
files=("$dir"/*.yaml "$dir"/*.yml)
if [ ${#files[@]} -eq 0 ]; then
    echo "check-profiles: no profiles in $dir" >&2
    exit 1
fi
failed=0
for f in "${files[@]}"; do
    if out=$("$corral" check "$f" 2>&1); then
        echo "ok      $f"
    else
        echo "REJECTED $f:" >&2
        echo "$out" >&2
        failed=1
    fi
done
exit $failed
