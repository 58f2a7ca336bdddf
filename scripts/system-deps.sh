#!/usr/bin/env bash
# System packages and services the tests use, installed and started only when missing (Debian):
# PostGIS for the PostgreSQL tests, Redis for the Celery tests, Chromium for the browser test.
set -euo pipefail

if [ "$(id -u)" != "0" ]; then SUDO=sudo; else SUDO=; fi
APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -q; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

PG_MAJOR="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1 || true)"
if [ -n "$PG_MAJOR" ]; then
  if ! dpkg -s "postgresql-$PG_MAJOR-postgis-3" >/dev/null 2>&1; then
    apt_install "postgresql-$PG_MAJOR-postgis-3"
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
