#!/usr/bin/env bash
# The spreadsheet benchmark: juru against openpyxl, reading and writing a workbook of
# 100,000 rows x 12 columns, interleaved, several rounds; writes bench/sheets/README.md.
#
#   bench/sheets/run.sh [ROWS] [ROUNDS]        (defaults: 100000 3)
#
# Builds the juru side (bench/sheets/juru_sheets.rs) in release into target/bench
# (or $CARGO_TARGET_DIR) and installs openpyxl into bench/.venv. Not part of cargo test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rows="${1:-100000}"
rounds="${2:-3}"
target="${CARGO_TARGET_DIR:-$repo/target/bench}"

echo "building the juru side (release) in $target"
CARGO_TARGET_DIR="$target" cargo build --release --quiet --example juru_sheets \
  --manifest-path "$repo/Cargo.toml"

venv="$repo/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import openpyxl" >/dev/null 2>&1; then
  echo "installing openpyxl 3.1.5 (PyPI) into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openpyxl==3.1.5"
fi

"$venv/bin/python" "$here/run.py" \
  --juru "$target/release/examples/juru_sheets" \
  --rows "$rows" --rounds "$rounds" --readme "$here/README.md"
