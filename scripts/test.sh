#!/usr/bin/env bash
# Runs every test of Duet: installs the system packages the tests need (when root with apt),
# checks lint, then runs pytest inside a loopback-only network namespace so no test packet can
# leave the machine (WebRTC gathers candidates on every interface otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v turnserver >/dev/null || need+=(coturn)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v ip >/dev/null || need+=(iproute2)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
command -v haproxy >/dev/null || need+=(haproxy)
command -v systemd-analyze >/dev/null || need+=(systemd)  # deploy/*.service are verified
command -v unshare >/dev/null && command -v nsenter >/dev/null || need+=(util-linux)
[ -x /usr/sbin/iptables-restore ] || command -v iptables-restore >/dev/null || need+=(iptables)  # the TURN lab
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "make test: installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "make test: missing system packages: ${need[*]}" >&2
    echo "Install them (Debian: sudo apt-get install ${need[*]}) and run 'make test' again." >&2
    exit 1
  fi
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== mypy (strict on scheduling, rooms, signaling, media)"
.venv/bin/mypy

mkdir -p artifacts
echo "== pytest (inside a loopback-only network namespace)"
inner='ip link set lo up && exec .venv/bin/python -m pytest "$@"'
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c "$inner" sh "$@"
elif unshare -rn true 2>/dev/null; then
  exec unshare -rn sh -c "$inner" sh "$@"
else
  echo "make test: cannot create a network namespace (unshare -n / unshare -rn both failed)." >&2
  echo "Media tests must not send packets beyond loopback; run as root or enable user namespaces." >&2
  exit 1
fi
