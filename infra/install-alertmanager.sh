#!/usr/bin/env bash
# Debian's prometheus-alertmanager, for the alerting tests that push alerts to a real Alertmanager
# (tests/alerting/notify/test_alertmanager.py). Installs only when missing; uses sudo when not root.
# The tests start the binary themselves on a free port with a throwaway config; the package's own
# service (which systemd machines start on :9093) is neither needed nor touched.
set -euo pipefail
if command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "system packages: prometheus-alertmanager is present"
  exit 0
fi
echo "system packages: installing prometheus-alertmanager"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus-alertmanager
# Debian's package enables a system service on :9093; perfpulse's tests start their own on free
# ports, and nothing else here should be listening, so stop it where systemd runs it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus-alertmanager 2>/dev/null; then
  $SUDO systemctl disable --now prometheus-alertmanager || true
fi
