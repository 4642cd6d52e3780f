#!/bin/bash
# Init step of the evaluation PostgreSQL (components/postgres; Compose's `postgres` profile mounts
# the same file). Run once by the image's entrypoint on the first start, against a server that
# listens on its socket only (PGHOST/PGUSER set by the entrypoint). For every service: a login
# role of the service's name with the password from $OUTREACH_DB_PASSWORDS_DIR/<svc>/password
# (the Secret outreach-<svc>-db the service mounts too) and a database of the same name owned
# by it, UTF8 with C collation and ctype (text orders by bytes, as in SQLite), from template0;
# nobody else may connect to it. Idempotent: an existing role gets the current password, an
# existing database is kept.
set -euo pipefail
DATABASES=${OUTREACH_DATABASES:-workshops training campaigns metrics}
PASSWORDS=${OUTREACH_DB_PASSWORDS_DIR:-/etc/outreach/db-passwords}
for db in $DATABASES; do
  file=$PASSWORDS/$db/password
  [[ -r $file ]] || { echo "init-databases: cannot read $file" >&2; exit 1; }
  psql -v ON_ERROR_STOP=1 -q -v db="$db" -v password="$(<"$file")" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'db')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'db') \gexec
ALTER ROLE :"db" WITH LOGIN PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template0 ENCODING %L LC_COLLATE %L LC_CTYPE %L',
              :'db', :'db', 'UTF8', 'C', 'C')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"db";
SQL
  echo "init-databases: role and database $db (UTF8, C)"
done
