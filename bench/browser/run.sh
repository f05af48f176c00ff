#!/usr/bin/env bash
# The browser benchmark: juru (workers = 1 and 2) against Python Selenium, Robot
# Framework + SeleniumLibrary and a bare fantoccini floor, on the standard workload
# against the demo portal, interleaved; then the idle agent. Rewrites the results
# section of bench/README.md.
#
#   bench/browser/run.sh [ROWS] [ROUNDS]        (defaults: 200 3)
#
# Builds juru, bench_portal and bench_floor in release into target/bench (or
# $CARGO_TARGET_DIR) and installs the Python peers into bench/.venv. Not part of
# cargo test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rows="${1:-200}"
rounds="${2:-3}"
target="${CARGO_TARGET_DIR:-$repo/target/bench}"

echo "building juru and the benchmark's portal and floor (release) in $target"
CARGO_TARGET_DIR="$target" cargo build --release --quiet --bin juru \
  --example bench_portal --example bench_floor --manifest-path "$repo/Cargo.toml"

venv="$repo/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import selenium, robot, SeleniumLibrary" >/dev/null 2>&1; then
  echo "installing selenium, robotframework, robotframework-seleniumlibrary (PyPI) into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "selenium==4.*" "robotframework==7.*" "robotframework-seleniumlibrary==6.*"
fi

"$venv/bin/python" "$here/run.py" \
  --juru "$target/release/juru" --portal "$target/release/examples/bench_portal" \
  --floor "$target/release/examples/bench_floor" --python "$venv/bin/python" \
  --rows "$rows" --rounds "$rounds" --readme "$repo/bench/README.md" "${@:3}"
