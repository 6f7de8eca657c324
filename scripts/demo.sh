#!/usr/bin/env bash
# Report on the bundled simulated L5 recording: sets up .venv if needed, installs
# fascidetect, writes demo-out/sim_mixed_L5_report.pdf and prints its path.
# Usage (from anywhere): scripts/demo.sh [extra 'fascidetect report' options...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv ..." >&2
  "$PY" -m venv .venv
fi
echo "Installing fascidetect into .venv (quiet) ..." >&2
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
# Build-backend chatter goes to a log; it is shown only when the install fails.
if ! .venv/bin/python -m pip install --quiet -e . >.venv/demo-install.log 2>&1; then
  cat .venv/demo-install.log >&2
  echo "pip install failed (log: .venv/demo-install.log)" >&2
  exit 1
fi
export MPLBACKEND=Agg
# One line per file written (several with --format png or a second --format).
written=$(.venv/bin/fascidetect report signals/sim_mixed_L5.edf --out demo-out "$@")
echo "Report written:" >&2
printf '%s\n' "$written" | sed "s|^|$(pwd)/|"
