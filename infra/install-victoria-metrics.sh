#!/usr/bin/env bash
# Debian's victoria-metrics (1.79 on bookworm), for `make bench-compare` (bench/compare.py), which
# starts the binary itself on loopback with a data dir under .perfpulse-bench/. Installs only when
# missing; runs as root (no sudo). The package's own service (which systemd machines start on :8428)
# is not used: where systemd runs it, it is stopped, so that its CPU and memory do not mix into the
# figures.
set -euo pipefail
if command -v victoria-metrics >/dev/null 2>&1; then
  echo "system packages: victoria-metrics is present"
  exit 0
fi
echo "system packages: installing victoria-metrics"
[ "$(id -u)" -eq 0 ] || { echo "victoria-metrics: installing needs root (apt-get)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends victoria-metrics
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet victoria-metrics 2>/dev/null; then
  systemctl disable --now victoria-metrics || true
fi
command -v victoria-metrics >/dev/null 2>&1 || { echo "victoria-metrics: installed, but not on PATH" >&2; exit 1; }
