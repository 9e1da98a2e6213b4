#!/usr/bin/env bash
# The Python package as a user gets it: `pip install .[test,serve]` into a
# fresh virtual environment of Debian's python (--system-site-packages:
# numpy, torch and onnx come from Debian), then the pytest suite, the Ray
# Serve test included (on the loopback address). scripts/test.sh runs it
# after the C tests; it needs the models those wrote.
#
#   scripts/test-python.sh [pytest args]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MI_PYTHON_VENV:-$root/build/pyvenv}
rm -rf "$venv"
/usr/bin/python3 -m venv --system-site-packages "$venv"
start=$(date +%s)
"$venv/bin/pip" install --quiet --disable-pip-version-check "$root[test,serve]"
echo "pip install .[test,serve]: $(( $(date +%s) - start )) s"
export MI_MODELS_DIR=${MI_MODELS_DIR:-$root/build/models}
export RAY_USAGE_STATS_ENABLED=0
cd "$root"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python "$@"
