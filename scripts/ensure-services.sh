#!/usr/bin/env bash
# PostgreSQL, Redis and RabbitMQ for the test suite: install them when missing (Debian
# packages) and start any that is down. Idempotent; safe to run before every test run.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=0
install_pkgs() {
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done
  echo "service on port $1 did not come up" >&2; return 1
}

# --- PostgreSQL (trust auth on 127.0.0.1 for the tests) ---
if ! port_open 5432; then
  command -v pg_ctlcluster >/dev/null || install_pkgs postgresql
  ver="$(ls /etc/postgresql | sort -V | tail -1)"
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if ! grep -q "coldstart-tests" "$hba"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust # coldstart-tests\nhost all all ::1/128 trust # coldstart-tests' "$hba"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_port 5432
fi

# --- Redis ---
if ! port_open 6379; then
  command -v redis-server >/dev/null || install_pkgs redis-server
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/coldstart-redis.log
  wait_port 6379
fi

# --- RabbitMQ ---
if ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || install_pkgs rabbitmq-server
  $SUDO rabbitmq-server -detached || true
  wait_port 5672
fi
echo "services up: postgres:5432 redis:6379 rabbitmq:5672"
