#!/usr/bin/env bash
# Installs nginx from Debian's packages; safe to re-run, does nothing when present.
#   bash bench/setup.sh nginx      (run by .ci/run for test/integration/nginx-accel.test.ts, and by
#                                   `BENCH_NGINX=1 npm run bench` when nginx is missing)
# The tests and the bench start their own nginx (non-daemon, loopback, config in a temp dir); the package's service is kept from
# starting during the install with a temporary policy-rc.d when the machine has none.
set -euo pipefail

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }

case "${1:-nginx}" in
  nginx)
    if have_nginx; then exit 0; fi
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
      $SUDO chmod +x /usr/sbin/policy-rc.d
      created_policy=1
    fi
    cleanup() { if [ -n "$created_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
    trap cleanup EXIT
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx-light \
      || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx
    have_nginx
    ;;
  *)
    echo "usage: bench/setup.sh [nginx]" >&2
    exit 2
    ;;
esac
