#!/usr/bin/env bash
# Installs what pgvigil needs on a fresh Debian/Ubuntu machine: PostgreSQL server
# binaries (any major 13+) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

have_pg() {
  [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/postgres" ] && return 0
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && return 0
  command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/postgres" ] && return 0
  command -v postgres >/dev/null 2>&1
}

if ! have_pg; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing PostgreSQL server binaries (apt-get install -y postgresql)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib iproute2 >/dev/null
    # pgvigil runs its own servers; the distribution's default cluster is not used.
    command -v pg_ctlcluster >/dev/null 2>&1 && pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
      pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
    done
  else
    echo "setup: PostgreSQL server binaries (13+) are missing. Install them with:" >&2
    echo "  sudo apt-get install -y postgresql        # Debian/Ubuntu" >&2
    echo "or point PG_BIN at a directory holding postgres, initdb and pg_ctl." >&2
    exit 1
  fi
fi

# The Linux VIP driver (and its network-namespace test) needs `ip` and `arping`.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && { ! command -v ip >/dev/null 2>&1 || ! command -v arping >/dev/null 2>&1; }; then
  echo "setup: installing iproute2 and iputils-arping (Linux VIP)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 iputils-arping >/dev/null
fi

# Every node's TLS (lib/host/clusterTls.ts: the cluster CA and host certificates) is made with the openssl CLI.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v openssl >/dev/null 2>&1; then
  echo "setup: installing openssl (the nodes' TLS certificates)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

# The partition test (test/e2e/partition.netns.e2e.test.ts) cuts hosts apart with nftables rules inside their namespaces.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v nft >/dev/null 2>&1; then
  echo "setup: installing nftables (network partition test)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null
fi

# The Prometheus test (test/e2e/prometheus.e2e.test.ts) runs Debian's prometheus and promtool itself;
# the package's own service is not wanted: stopped and disabled if its postinst started it.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && { ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; }; then
  echo "setup: installing prometheus (for its e2e test; its service stays off)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -d /run/systemd/system ]; then systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif command -v invoke-rc.d >/dev/null 2>&1; then invoke-rc.d prometheus stop >/dev/null 2>&1 || true; fi
fi

# The HAProxy test (test/e2e/haproxy.e2e.test.ts) and the failover benchmark's haproxy line need Debian's haproxy.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v haproxy >/dev/null 2>&1; then
  echo "setup: installing haproxy (HAProxy health-check test)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi

# The PgBouncer test (test/e2e/pgbouncer.e2e.test.ts) and `npm run bench:switchover` run Debian's pgbouncer
# themselves, as the unprivileged PostgreSQL user; the package's own service is not wanted.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "setup: installing pgbouncer (PgBouncer switchover test and benchmark; its service stays off)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  if [ -d /run/systemd/system ]; then systemctl disable --now pgbouncer >/dev/null 2>&1 || true
  elif command -v invoke-rc.d >/dev/null 2>&1; then invoke-rc.d pgbouncer stop >/dev/null 2>&1 || true; fi
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
echo "setup: ready"
