#!/usr/bin/env bash
# Installs everything spikegen needs into .venv (idempotent; fast when nothing changed).
# Debian packages are installed only when missing (the C++ compiler and make Verilator uses,
# the LZ4 and zlib headers of its FST waveforms, and GHDL for the VHDL).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v make >/dev/null 2>&1 || need_apt+=(make)
# GHDL simulates the emitted VHDL (Debian's 2.0.0, mcode back end)
command -v ghdl >/dev/null 2>&1 || need_apt+=(ghdl)
# Verilator writes FST waveforms (verify --waves) with LZ4 and zlib
[ -f /usr/include/lz4.h ] || need_apt+=(liblz4-dev)
[ -f /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.spikegen-installed
reinstall=""
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
  reinstall=yes
# another framework installed since (sinabs, rockpool) may have downgraded nir under spikegen:
# pip check and the versions spikegen needs, about a second
elif ! .venv/bin/python -m spikegen.environment; then
  echo "setup: the environment changed since the last set-up; reinstalling"
  reinstall=yes
fi
if [ -n "$reinstall" ]; then
  echo "setup: installing Python packages into .venv (about a minute on a fresh machine)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is named in the same command as the packages that depend on it, so pip takes the
  # local CPU wheel instead of downloading a multi-GB CUDA build
  .venv/bin/python -m pip install -q torch==2.13.0 -e ".[dev,plot]"
  if ! .venv/bin/python -m spikegen.environment; then
    echo "setup: the environment still has the problems above (a framework that pins nir" \
         "1.0.4, such as sinabs or rockpool, belongs in a venv of its own; see the README)" >&2
    exit 1
  fi
  touch "$stamp"
fi
