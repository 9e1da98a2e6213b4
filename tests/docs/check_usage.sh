#!/usr/bin/env bash
# docs/usage.md documents exactly the options each command's --help lists,
# and names every function the public headers declare.
#   check_usage.sh MINI_INFER USAGE_MD INCLUDE_DIR
set -euo pipefail
bin=$1 doc=$2 inc=$3
rc=0
for cmd in plan run solve; do
  help=$("$bin" "$cmd" --help | grep -oE '^  --[a-z0-9-]+' | tr -d ' ' | sort -u)
  # The command's section: from "## mini-infer CMD" to the next "## ".
  section=$(awk -v h="## mini-infer $cmd" '$0 ~ "^## " {on = ($0 == h || index($0, h " ") == 1)} on' "$doc")
  [ -n "$section" ] || { echo "FAIL: no section '## mini-infer $cmd' in $doc"; rc=1; continue; }
  documented=$(echo "$section" | grep -oE '^\| `--[a-z0-9-]+' | tr -d '|` ' | sort -u)
  missing=$(comm -23 <(echo "$help") <(echo "$documented"))
  extra=$(comm -13 <(echo "$help") <(echo "$documented"))
  [ -z "$missing" ] || { echo "FAIL: $cmd: options in --help but not in $doc: $missing"; rc=1; }
  [ -z "$extra" ] || { echo "FAIL: $cmd: options in $doc but not in --help: $extra"; rc=1; }
  echo "$cmd: $(echo "$help" | wc -l) options documented"
done
# Declarations start a line: a return type, then mi_name( .
functions=$(grep -hE '^(static inline )?(const )?(unsigned )?[a-z_0-9]+[ *]+\**mi_[a-z0-9_]+\(' "$inc"/mini_infer/*.h |
  grep -oE 'mi_[a-z0-9_]+\(' | tr -d '(' | sort -u)
[ -n "$functions" ] || { echo "FAIL: no functions found in $inc/mini_infer"; rc=1; }
for f in $functions; do
  grep -qE "\b$f\b" "$doc" || { echo "FAIL: $f (public header) is not in $doc"; rc=1; }
done
echo "C API: $(echo "$functions" | wc -w) functions documented"
[ $rc -eq 0 ] && echo "usage: PASS"
exit $rc
