#!/usr/bin/env bash
# Installs Debian packages the tests and the bench use; safe to re-run, does nothing when they are present.
#   bash bench/setup.sh nginx      (run by .ci/run for test/integration/nginx-accel.test.ts, and by
#                                   `BENCH_NGINX=1 npm run bench` when nginx is missing)
#   bash bench/setup.sh ceph       a one-node Ceph with the RADOS Gateway (S3): ceph-mon, ceph-osd, radosgw (run by
#                                   .ci/run for the postgres-s3 suite; test/support/ceph/start.sh starts it)
# The tests and the bench start their own nginx and Ceph daemons (foreground, loopback, config in a temp dir); the
# packages' services are kept from starting during the install with a temporary policy-rc.d when the machine has none.
set -euo pipefail

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
have_ceph() { command -v radosgw >/dev/null 2>&1 && command -v ceph-mon >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
created_policy=""
cleanup() { if [ -n "$created_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

apt_install() {
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

case "${1:-nginx}" in
  nginx)
    if have_nginx; then exit 0; fi
    apt_install nginx-light || apt_install nginx
    have_nginx
    ;;
  ceph)
    if have_ceph; then exit 0; fi
    # About 60 packages, ~61 MB to download, ~270 MB on disk (Debian 12: Ceph 16.2 Pacific).
    apt_install ceph-mon ceph-osd radosgw
    have_ceph
    ;;
  *)
    echo "usage: bench/setup.sh [nginx|ceph]" >&2
    exit 2
    ;;
esac
