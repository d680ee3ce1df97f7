#!/usr/bin/env bash
# The stage folders of src/ and include/corral/ include one another in one direction only:
#   base ← profile ← box ← oom ← report ← run ← cli (src/cli.cpp, src/main.cpp)
# A file may include its own folder and the folders to its left. Prints every include that breaks
# the rule and exits 1; exit 0 when there is none.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
order=(base profile box oom report run)
rank() {
    local i
    for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done
    echo 99  # top level (cli, main)
}
bad=0
files=0
while IFS= read -r f; do
    files=$((files + 1))
    rel=${f#"$root"/}
    rel=${rel#src/}
    rel=${rel#include/corral/}
    case $rel in */*) stage=${rel%%/*} ;; *) stage=top ;; esac
    own=$(rank "$stage")
    while IFS= read -r inc; do
        target=${inc#corral/}
        case $target in */*) t=${target%%/*} ;; *) t=top ;; esac
        if [ "$(rank "$t")" -gt "$own" ]; then
            echo "layering: $rel ($stage) includes corral/$target ($t), a later stage"
            bad=1
        fi
    done < <(sed -n 's/^#include "\(corral\/[^"]*\)".*/\1/p' "$f")
done < <(find "$root/src" "$root/include/corral" -name '*.cpp' -o -name '*.hpp')
[ "$files" -gt 0 ] || { echo "layering: no source files under $root"; exit 1; }
[ "$bad" = 0 ] && echo "layering: $files files, every include goes to the same or an earlier stage"
exit "$bad"
