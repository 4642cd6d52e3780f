#!/usr/bin/env bash
# A development PKI for running the suite locally (scripts/run.sh calls it with data/pki):
#   ca.pem, ca.key               the development CA (EC P-256, 5 years)
#   <svc>.pem, <svc>.key         per service (workshops training campaigns metrics): SANs
#                                DNS:<svc>, DNS:localhost, IP:127.0.0.1,
#                                URI:spiffe://<trust domain>/<svc>; server and client auth,
#                                since services call each other over mutual TLS (397 days)
#   operator.pem, operator.key   a client certificate for the demo loaders and the CLI when a
#                                server requires one; its identity "operator" is no service, so
#                                the policy grants it nothing: people still need a token
#   signing.pem                  the token signing key (EC P-256, ES256)
#   jwks.json                    only when $OUTREACH_TOKEN_BIN is set (see the end)
# Idempotent: what exists and is good is kept; a missing file, a certificate the CA no longer
# verifies or one expiring within a day is made again. Keys are 0600. OpenSSL CLI only.
# Usage: scripts/dev-pki.sh DIR   (trust domain: $OUTREACH_TRUST_DOMAIN, default outreach)
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
DIR=$1
TRUST_DOMAIN=${OUTREACH_TRUST_DOMAIN:-outreach}
SERVICES=(workshops training campaigns metrics)
CA_DAYS=1826   # 5 years
LEAF_DAYS=397  # the longest a public CA may issue; the same habit here
DAY=86400

umask 077
mkdir -p "$DIR"
work=$(mktemp -d "$DIR/.dev-pki.XXXXXX")
trap 'rm -rf "$work"' EXIT
made=()

new_key() {  # new_key FILE: an EC P-256 private key (PKCS#8 PEM), 0600
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 0600 "$1"
}

# Files are made in $work and moved into place one by one: a run stopped between the two moves
# leaves a key that is not its certificate's, which the next run's check finds and makes again.
install_pair() {  # install_pair NAME: $work/NAME.{pem,key} → $DIR
  chmod 0644 "$work/$1.pem"
  mv -f "$work/$1.key" "$DIR/$1.key"
  mv -f "$work/$1.pem" "$DIR/$1.pem"
  made+=("$1")
}

pair_matches() {  # pair_matches NAME: the key is the certificate's
  [[ "$(openssl x509 -in "$DIR/$1.pem" -noout -pubkey 2>/dev/null)" == \
     "$(openssl pkey -in "$DIR/$1.key" -pubout 2>/dev/null)" ]]
}

ca_good() {
  [[ -s $DIR/ca.pem && -s $DIR/ca.key ]] && pair_matches ca &&
    openssl x509 -in "$DIR/ca.pem" -noout -checkend "$DAY" >/dev/null 2>&1
}

leaf_good() {  # leaf_good NAME: present, its key, signed by the current CA, valid another day
  [[ -s $DIR/$1.pem && -s $DIR/$1.key ]] && pair_matches "$1" &&
    openssl verify -CAfile "$DIR/ca.pem" "$DIR/$1.pem" >/dev/null 2>&1 &&
    openssl x509 -in "$DIR/$1.pem" -noout -checkend "$DAY" >/dev/null 2>&1
}

if ! ca_good; then
  new_key "$work/ca.key"
  openssl req -x509 -new -key "$work/ca.key" -sha256 -days "$CA_DAYS" \
    -subj "/O=Cyber Outreach Suite (development)/CN=Outreach development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$work/ca.pem" 2>/dev/null
  install_pair ca
fi

issue() {  # issue NAME EXTENDED_KEY_USAGE SUBJECT_ALT_NAMES
  local name=$1
  new_key "$work/$name.key"
  openssl req -new -key "$work/$name.key" -subj "/O=Cyber Outreach Suite (development)/CN=$name" \
    -out "$work/$name.csr" 2>/dev/null
  cat >"$work/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$2
subjectAltName=$3
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
EOF
  openssl x509 -req -in "$work/$name.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -sha256 \
    -days "$LEAF_DAYS" -set_serial "0x$(openssl rand -hex 16)" -extfile "$work/$name.ext" \
    -out "$work/$name.pem" 2>/dev/null
  install_pair "$name"
}

for svc in "${SERVICES[@]}"; do
  leaf_good "$svc" ||
    issue "$svc" "serverAuth,clientAuth" \
      "DNS:$svc,DNS:localhost,IP:127.0.0.1,URI:spiffe://$TRUST_DOMAIN/$svc"
done
leaf_good operator || issue operator "clientAuth" "URI:spiffe://$TRUST_DOMAIN/operator"

if [[ ! -s $DIR/signing.pem ]]; then
  new_key "$work/signing.pem"
  mv -f "$work/signing.pem" "$DIR/signing.pem"
  made+=(signing)
fi

# --- outreach-token: the JWKS the services verify tokens with --------------------------------
# The tool is built by the token work (issue 11); until it is, set OUTREACH_TOKEN_BIN to it.
# Assumed interface: `outreach-token jwks --key signing.pem --kid dev-1` prints the JWKS.
if [[ -n ${OUTREACH_TOKEN_BIN:-} ]]; then
  if [[ ! -s $DIR/jwks.json || $DIR/signing.pem -nt $DIR/jwks.json ]]; then
    "$OUTREACH_TOKEN_BIN" jwks --key "$DIR/signing.pem" --kid dev-1 >"$work/jwks.json"
    chmod 0644 "$work/jwks.json"
    mv -f "$work/jwks.json" "$DIR/jwks.json"
    made+=(jwks)
  fi
fi
# --- end outreach-token

if ((${#made[@]})); then
  echo "dev-pki: made ${made[*]} in $DIR"
else
  echo "dev-pki: $DIR is up to date"
fi
