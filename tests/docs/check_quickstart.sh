#!/usr/bin/env bash
# Runs every ```sh block of docs/quickstart.md, as written, in a fresh clone
# of this repository in a temporary folder.
#   check_quickstart.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
git clone -q "$src" "$work/mini-infer"
# The working tree as it is now, not only what is committed.
# Files deleted but not yet committed are listed too: skip what is gone.
(cd "$src" && git ls-files -co --exclude-standard -z |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  xargs -0 cp --parents -t "$work/mini-infer")
(cd "$src" && git ls-files -d -z) | (cd "$work/mini-infer" && xargs -0 rm -f --)
awk '/^```sh$/ {on = 1; next} /^```/ {on = 0} on' "$src/docs/quickstart.md" >"$work/quickstart.sh"
echo "== running $(grep -c . "$work/quickstart.sh") lines from docs/quickstart.md in $work/mini-infer"
cd "$work/mini-infer"
bash -euo pipefail -x "$work/quickstart.sh"
echo "quickstart: PASS"
