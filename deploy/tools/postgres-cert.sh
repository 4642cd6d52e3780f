#!/usr/bin/env bash
# A development server certificate for the evaluation PostgreSQL, from the development CA that
# scripts/dev-pki.sh made in DIR (ca.pem, ca.key):
#   DIR/postgres.pem, DIR/postgres.key   EC P-256, 397 days, serverAuth; SANs DNS:postgres,
#                                        DNS:postgres.outreach.svc.cluster.local, DNS:localhost,
#                                        IP:127.0.0.1 (every name the services dial it by in
#                                        Compose, the Kubernetes namespace `outreach` and the
#                                        local overlays), so sslmode=verify-full holds
# The services verify it with the same CA (ca.pem). The key is made readable by the image's
# postgres user (gid 999: root-owned, mode 0640, which PostgreSQL accepts) when run as root.
# Idempotent like dev-pki.sh: a good pair that the CA verifies and that is valid another day is kept.
# Usage: deploy/tools/postgres-cert.sh DIR
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[[ -s $DIR/ca.pem && -s $DIR/ca.key ]] || { echo "postgres-cert: no $DIR/ca.pem + ca.key (run scripts/dev-pki.sh $DIR)" >&2; exit 1; }
good() {
  [[ -s $DIR/postgres.pem && -s $DIR/postgres.key ]] &&
    [[ "$(openssl x509 -in "$DIR/postgres.pem" -noout -pubkey 2>/dev/null)" == \
       "$(openssl pkey -in "$DIR/postgres.key" -pubout 2>/dev/null)" ]] &&
    openssl verify -CAfile "$DIR/ca.pem" "$DIR/postgres.pem" >/dev/null 2>&1 &&
    openssl x509 -in "$DIR/postgres.pem" -noout -checkend 86400 >/dev/null 2>&1
}
if ! good; then
  work=$(mktemp -d "$DIR/.postgres-cert.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/postgres.key" 2>/dev/null)
  openssl req -new -key "$work/postgres.key" -subj "/O=Cyber Outreach Suite (development)/CN=postgres" \
    -out "$work/postgres.csr" 2>/dev/null
  cat >"$work/ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:postgres,DNS:postgres.outreach.svc.cluster.local,DNS:localhost,IP:127.0.0.1
EXT
  openssl x509 -req -in "$work/postgres.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
    -CAserial "$work/ca.srl" -sha256 -days 397 -extfile "$work/ext" -out "$work/postgres.pem" 2>/dev/null
  chmod 0644 "$work/postgres.pem"
  mv -f "$work/postgres.key" "$DIR/postgres.key"
  mv -f "$work/postgres.pem" "$DIR/postgres.pem"
  echo "postgres-cert: made $DIR/postgres.pem (DNS:postgres, IP:127.0.0.1)"
fi
if [[ $(id -u) == 0 ]]; then
  chown 0:999 "$DIR/postgres.key" && chmod 0640 "$DIR/postgres.key"
else
  echo "postgres-cert: not root: $DIR/postgres.key stays 0600; for Compose make it root-owned," \
    "group 999, mode 0640 (PostgreSQL in the container runs as uid 999)" >&2
fi
