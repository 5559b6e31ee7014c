#!/usr/bin/env bash
# System packages perfpulse's local services need: Java 17 + Maven (Kafka from Maven Central jars)
# and Debian's redis-server, and Debian's chromium for the dashboard's browser tests (driven by
# playwright-core: no browser is downloaded). Installs only what is missing; uses sudo when not root.
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: java, mvn, redis-server and chromium are present"
  exit 0
fi
echo "system packages: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
