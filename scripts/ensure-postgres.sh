#!/usr/bin/env bash
# Make sure a PostgreSQL server answers at 127.0.0.1:5432 with a database `test` that the
# user `postgres` can reach without a password (what the test suite expects).
# On this project's machines it already runs; on a bare Debian machine this installs it.
set -euo pipefail

if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "ensure-postgres: installing PostgreSQL from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
if ! grep -q "uws-server test trust" "$hba"; then
  # Loopback only, for the test database: trust, as on the project's machines.
  sed -i '1i host all all 127.0.0.1/32 trust # uws-server test trust' "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
  || pg_ctlcluster "$version" main start
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='test'\"" | grep -q 1 \
  || su postgres -c "createdb test"
echo "ensure-postgres: PostgreSQL $version answers at 127.0.0.1:5432"
