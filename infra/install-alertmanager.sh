#!/usr/bin/env bash
# Debian's prometheus-alertmanager, for the alerting tests that push alerts to a real Alertmanager
# (tests/alerting/test_alertmanager.py). Installs only when missing; uses sudo when not root.
# The package's own service is not needed: the tests start the binary on a free port themselves.
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
