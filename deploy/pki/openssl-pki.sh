#!/usr/bin/env bash
# Patrol certificates with plain openssl, for sites that keep their own PKI tooling.
#
# The usual way is 'patrol-collector pki init' plus enrollment tokens (see README.md); this script
# makes the same kinds of certificates by hand:
#
#   openssl-pki.sh ca     DIR                      # DIR/ca.crt, DIR/ca.key
#   openssl-pki.sh server DIR NAME [NAME...]       # DIR/server.crt, DIR/server.key (DNS names / IPs)
#   openssl-pki.sh agent  DIR AGENT_ID CUSTOMER    # DIR/AGENT_ID.crt, DIR/AGENT_ID.key
#
# Agent certificates carry the identity the collector trusts: CN=<agent id>, OU=<customer id> and
# the SAN URI patrol://customer/<customer id>/agent/<agent id>. Requires OpenSSL 1.1.1 or newer.
set -euo pipefail

umask 077
days_ca=3650
days_leaf=${DAYS:-825}

usage() { sed -n '7,9p' "$0" | sed 's/^#   //' >&2; exit 2; }
die() { echo "openssl-pki.sh: $*" >&2; exit 1; }

# Agent and customer ids: the same rule as agent.yaml, so the URI needs no escaping.
valid_id() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || die "invalid id '$1' (letters, digits, '.', '_', '-')"; }

serial() { echo "0x$(openssl rand -hex 16)"; }

sign() {  # sign DIR NAME SUBJECT EXTENSIONS: key + CSR + certificate signed by DIR/ca.*
    local dir=$1 name=$2 subject=$3 ext=$4 extfile
    [[ -f "$dir/ca.crt" && -f "$dir/ca.key" ]] || die "no CA in $dir: run '$0 ca $dir' first"
    extfile=$(mktemp)
    trap 'rm -f "$extfile" "$dir/$name.csr"' RETURN
    printf '%b\n' "$ext" >"$extfile"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
        -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "$(serial)" \
        -days "$days_leaf" -sha256 -extfile "$extfile" -out "$dir/$name.crt" 2>/dev/null
    chmod 600 "$dir/$name.key"
    chmod 644 "$dir/$name.crt"
    echo "wrote $dir/$name.crt and $dir/$name.key (serial $(openssl x509 -in "$dir/$name.crt" -noout -serial | cut -d= -f2))"
}

cmd=${1:-}; shift || true
case "$cmd" in
ca)
    [[ $# -eq 1 ]] || usage
    dir=$1
    [[ ! -e "$dir/ca.key" ]] || die "$dir/ca.key exists; refusing to replace a CA (every agent would need a new certificate)"
    mkdir -p "$dir"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$days_ca" \
        -subj "/O=Patrol/CN=Patrol CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    chmod 600 "$dir/ca.key"
    chmod 644 "$dir/ca.crt"
    echo "wrote $dir/ca.crt and $dir/ca.key"
    echo "fingerprint sha256:$(openssl x509 -in "$dir/ca.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)"
    ;;
server)
    [[ $# -ge 2 ]] || usage
    dir=$1; shift
    sans=""
    for n in "$@"; do
        if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then sans+="IP:$n,"; else sans+="DNS:$n,"; fi
    done
    sign "$dir" server "/O=Patrol/CN=$1" \
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans%,}"
    ;;
agent)
    [[ $# -eq 3 ]] || usage
    dir=$1 agent=$2 customer=$3
    valid_id "$agent"; valid_id "$customer"
    sign "$dir" "$agent" "/O=Patrol agent/OU=$customer/CN=$agent" \
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:patrol://customer/$customer/agent/$agent"
    ;;
*)
    usage
    ;;
esac
