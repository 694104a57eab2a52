#!/usr/bin/env bash
# A private certificate authority for Bridgeback's test and development hosts (openssl only).
#
#   deploy/local/tls.sh ca DIR                  make DIR/ca.pem and DIR/ca.key once (kept if present)
#   deploy/local/tls.sh cert DIR NAME SAN...    make DIR/NAME.pem and DIR/NAME.key, signed by DIR's CA, for
#                                               every SAN (DNS:host or IP:address); kept if present
#
# Used by deploy/local/cluster.sh (amqps between a local cluster and its clients), by
# deploy/local/netns-lab.sh (every host of the network-namespace lab) and for HTTPS on admission and the
# coordinator's status API. Keys are written mode 600; a CA made here is for tests, not production.
set -euo pipefail

log() { printf '[tls] %s\n' "$*" >&2; }

cmd_ca() {
    local dir=$1
    [ -f "$dir/ca.pem" ] && return 0
    mkdir -p "$dir"
    log "generating a private CA in $dir"
    (
        umask 077
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
            -subj "/CN=Bridgeback private CA" 2>/dev/null
        chmod 644 "$dir/ca.pem"
    )
}

cmd_cert() {
    local dir=$1 name=$2; shift 2
    [ "$#" -gt 0 ] || { log "cert needs at least one SAN (DNS:name or IP:address)"; exit 2; }
    [ -f "$dir/$name.pem" ] && return 0
    [ -f "$dir/ca.pem" ] || cmd_ca "$dir"
    local cn=${1#*:} sans
    sans=$(IFS=,; echo "$*")
    (
        umask 077
        openssl req -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$cn" 2>/dev/null
        printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$sans" > "$dir/$name.ext"
        openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
            -out "$dir/$name.pem" -days 825 -extfile "$dir/$name.ext" 2>/dev/null
        rm -f "$dir/$name.csr" "$dir/$name.ext"
        chmod 644 "$dir/$name.pem"
    )
}

case "${1:-}" in
    ca) cmd_ca "${2:?directory}" ;;
    cert) shift; cmd_cert "$@" ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
esac
