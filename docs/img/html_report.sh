#!/usr/bin/env bash
# Redraws docs/img/html_report.png (docs/ci.md): `samspec check --html` on a port without the +0.5
# pixel shift, drawn by headless Chromium. Run from the repository root: bash docs/img/html_report.sh
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
samspec check docs/img/no_shift_port.py:NoShift --cases '^(seed\.points|boxes\.only|labels\.foreground)$' \
    --html "$out/r.html" > /dev/null || true  # exit 1: the port fails, as it should
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1000 \
    --screenshot="$out/shot.png" "file://$out/r.html" 2> /dev/null
cp "$out/shot.png" docs/img/html_report.png
