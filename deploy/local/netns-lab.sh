#!/usr/bin/env bash
# A network of Bridgeback hosts on one Linux machine: each host is a network namespace with its own
# address, host name and /etc/hosts, joined to the others by a veth pair on a private bridge. Needs root;
# touches nothing outside its own namespaces, bridge and state directory.
#
#   deploy/local/netns-lab.sh up              create the hosts, a private CA and a certificate per host, and
#                                             start a RabbitMQ cluster on broker1-3 (amqps only, long node names)
#   deploy/local/netns-lab.sh down            stop every process on the lab's hosts; delete hosts, links, bridge
#   deploy/local/netns-lab.sh exec HOST CMD   run CMD on HOST (its network, its host name, its /etc/hosts)
#   deploy/local/netns-lab.sh env             BRIDGEBACK_*_AMQP_URL for the hosts (every broker, amqps, the CA)
#   deploy/local/netns-lab.sh kill N          kill -9 broker N's RabbitMQ (1-3)
#   deploy/local/netns-lab.sh leader QUEUE    the broker number (1-3) leading a quorum queue
#   deploy/local/netns-lab.sh link HOST down|up      pull / plug HOST's network cable (its veth on the bridge)
#   deploy/local/netns-lab.sh partition HOST on|off  HOST and the broker hosts stop / resume reaching each other
#                                             (both directions; HOST still reaches every other host)
#   deploy/local/netns-lab.sh isolate N on|off       broker N and the other two brokers stop / resume reaching each
#                                             other (clients still reach broker N): a minority of one, which
#                                             pauses (pause_minority) and rejoins when healed
#   deploy/local/netns-lab.sh connections [M] "N name" for every client connection: the broker it is on, its name
#                                             (as a broker other than M sees them)
#   deploy/local/netns-lab.sh hosts           name, address and namespace of every host
#
# Hosts (10.77.0.0/24 by default; the namespace that runs this script is 10.77.0.1, "client"):
#   broker1-3 .11-.13  RabbitMQ nodes rabbit@brokerN.bridgeback.test, each with its own epmd
#   worker1-2 .21-.22  bridgeback worker
#   control   .30      bridgeback admission and bridgeback coordinator
#   edge      .40      a webhook receiver
#
# Configuration (environment): BRIDGEBACK_LAB_DIR (state, default deploy/local/state/lab), BRIDGEBACK_LAB_ID
# (namespace prefix, at most 8 letters/digits, default bblab: namespaces bblab-broker1 ..., so two labs on
# one machine need two ids), BRIDGEBACK_LAB_NET (first three octets, default 10.77.0),
# BRIDGEBACK_LAB_HEARTBEAT (AMQP heartbeat in the printed URLs, seconds, default 5),
# BRIDGEBACK_LAB_NET_TICKTIME (the brokers' net_ticktime, default 10), BRIDGEBACK_LAB_DIST_TLS (1, the default:
# Erlang distribution between the brokers over TLS, each node presenting its host's certificate and
# verifying its peer's; 0: plain). Every host's certificate (DNS:HOST.bridgeback.test, IP:its address) is in
# $BRIDGEBACK_LAB_DIR/tls/HOST.pem and HOST.key, for HTTPS on admission and the status API.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${BRIDGEBACK_LAB_DIR:-$here/state/lab}"
id="${BRIDGEBACK_LAB_ID:-bblab}"
net="${BRIDGEBACK_LAB_NET:-10.77.0}"
heartbeat="${BRIDGEBACK_LAB_HEARTBEAT:-5}"
ticktime="${BRIDGEBACK_LAB_NET_TICKTIME:-10}"
dist_tls="${BRIDGEBACK_LAB_DIST_TLS:-1}"
domain=bridgeback.test
bridge="${id}br"
hosts=(broker1 broker2 broker3 worker1 worker2 control edge)

log() { printf '[lab] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ "$id" =~ ^[a-z0-9]{1,8}$ ]] || die "BRIDGEBACK_LAB_ID must be 1-8 lowercase letters or digits, got '$id'"
[[ "$net" =~ ^10\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "BRIDGEBACK_LAB_NET must be three octets in 10.0.0.0/8 (10.77.0), got '$net'"

host_octet() {
    case "$1" in
        client) echo 1 ;; broker1) echo 11 ;; broker2) echo 12 ;; broker3) echo 13 ;;
        worker1) echo 21 ;; worker2) echo 22 ;; control) echo 30 ;; edge) echo 40 ;;
        *) die "no host '$1' (hosts: ${hosts[*]})" ;;
    esac
}
address() { echo "$net.$(host_octet "$1")"; }
namespace() { host_octet "$1" >/dev/null; echo "$id-$1"; }
# The host's end of its cable lives in the namespace as eth0; the bridge's end is named after the host.
cable() { echo "$id$(host_octet "$1")"; }

need_root() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth pairs and a bridge); run as root inside a disposable machine"
}

cmd_exec() {
    local host=$1; shift
    [ "$#" -gt 0 ] || die "exec $host: no command"
    local ns; ns="$(namespace "$host")"
    [ -e "/run/netns/$ns" ] || die "host $host is not up (no namespace $ns): run '$0 up' first"
    # A mount namespace for /etc/hosts and a UTS namespace for the host name, only for this command.
    exec ip netns exec "$ns" unshare -m -u sh -c 'mount --bind "$0" /etc/hosts && hostname "$1" && shift && exec "$@"' \
        "$state/hosts" "$host.$domain" "$@"
}

write_hosts_file() {
    {
        echo "127.0.0.1 localhost"
        echo "$(address client) client.$domain client"
        for h in "${hosts[@]}"; do echo "$(address "$h") $h.$domain $h"; done
    } > "$state/hosts"
    chmod 644 "$state/hosts"
}

# broker.sh for broker N on its host, with its own state, certificate and long node name.
broker() {
    local n=$1; shift
    local join=""
    [ "$n" = 1 ] || join="rabbit@broker1.$domain"
    "$0" exec "broker$n" env \
        BRIDGEBACK_BROKER_DIR="$state/broker$n" \
        BRIDGEBACK_BROKER_ADDRESS="$(address "broker$n")" \
        BRIDGEBACK_BROKER_PORT=5671 \
        BRIDGEBACK_BROKER_NODE="rabbit@broker$n.$domain" \
        BRIDGEBACK_BROKER_JOIN="$join" \
        BRIDGEBACK_BROKER_TLS_DIR="$state/tls/broker$n" \
        BRIDGEBACK_BROKER_NET_TICKTIME="$ticktime" \
        BRIDGEBACK_BROKER_DIST_TLS="$dist_tls" \
        BRIDGEBACK_BROKER_JOIN_LOCK="$state/join.lock" \
        "$here/broker.sh" "$@"
}

make_certificates() {
    "$here/tls.sh" ca "$state/tls"
    for h in "${hosts[@]}"; do
        "$here/tls.sh" cert "$state/tls" "$h" "DNS:$h.$domain" "IP:$(address "$h")"
        # broker.sh wants ca.pem, server.pem and server.key in one directory.
        mkdir -p "$state/tls/$h"
        cp "$state/tls/ca.pem" "$state/tls/$h/ca.pem"
        cp "$state/tls/$h.pem" "$state/tls/$h/server.pem"
        install -m 600 "$state/tls/$h.key" "$state/tls/$h/server.key"
    done
}

cmd_up() {
    need_root
    # A namespace's name is a bind mount that lives in the mount namespace that made it: what an earlier
    # run left behind (a stale name, its bridge, orphaned brokers) goes first, and the lab is made afresh.
    cmd_down 2>/dev/null
    mkdir -p "$state"
    write_hosts_file
    make_certificates
    # Another lab (another id) in this network namespace on the same addresses would take this one's traffic.
    if ip -4 -o addr show | grep -q " $net\.[0-9]*/"; then
        die "$net.0/24 is already in use in this network namespace (another lab?): set BRIDGEBACK_LAB_NET"
    fi
    if ! ip link show "$bridge" >/dev/null 2>&1; then
        ip link add "$bridge" type bridge
        ip addr add "$(address client)/24" dev "$bridge"
        ip link set "$bridge" up
    fi
    for h in "${hosts[@]}"; do
        local ns; ns="$(namespace "$h")"
        ip netns add "$ns"
        ip link add "$(cable "$h")" type veth peer name eth0 netns "$ns"
        ip link set "$(cable "$h")" master "$bridge"
        ip link set "$(cable "$h")" up
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$(address "$h")/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
    log "hosts up on $bridge ($net.0/24): ${hosts[*]}"
    broker 1 start
    # Brokers 2 and 3 start and join at the same time (one cookie, broker 1's generated passwords).
    local pids=() n rc=0
    for n in 2 3; do
        mkdir -p "$state/broker$n/home"
        install -m 400 "$state/broker1/home/.erlang.cookie" "$state/broker$n/home/.erlang.cookie"
        install -m 600 "$state/broker1/credentials.env" "$state/broker$n/credentials.env"
        broker "$n" start & pids+=($!)
    done
    for n in "${pids[@]}"; do wait "$n" || rc=1; done
    [ "$rc" = 0 ] || die "a broker did not start (logs in $state/broker*/log)"
    log "cluster ready: rabbit@broker{1,2,3}.$domain, amqps on port 5671 of each broker host, distribution $([ "$dist_tls" = 1 ] && echo "over TLS" || echo plain)"
}

cmd_down() {
    need_root
    local h ns pids
    for h in "${hosts[@]}"; do
        ns="$(namespace "$h")"
        [ -e "/run/netns/$ns" ] || continue
        # Every process on the host (brokers, their epmd, fleet processes), by id.
        pids="$(ip netns pids "$ns" 2>/dev/null || true)"
        [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    done
    sleep 0.2
    for h in "${hosts[@]}"; do
        ns="$(namespace "$h")"
        if [ -e "/run/netns/$ns" ]; then
            pids="$(ip netns pids "$ns" 2>/dev/null || true)"
            [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
        fi
        ip link del "$(cable "$h")" 2>/dev/null || true
    done
    ip link del "$bridge" 2>/dev/null || true
    # Brokers (and their epmd) whose namespace name is already gone (a crashed run): found by the state
    # directory in their environment, so nothing else on the machine is touched.
    local p
    for p in /proc/[0-9]*; do
        tr '\0' '\n' 2>/dev/null < "$p/environ" | grep -qx "RABBITMQ_MNESIA_BASE=$state/broker[123]/mnesia" \
            && kill -9 "${p#/proc/}" 2>/dev/null || true
    done
    for n in 1 2 3; do rm -f "$state/broker$n/rabbitmq.pid"; done
    log "lab $id down"
}

cmd_env() {
    local creds="$state/broker1/credentials.env"
    [ -f "$creds" ] || die "no credentials yet: run '$0 up' first"
    # shellcheck disable=SC1090
    . "$creds"
    urls() { # user password
        local list="" n
        for n in 1 2 3; do
            list+="${list:+,}amqps://$1:$2@broker$n.$domain:5671/bridgeback?cacertfile=$state/tls/ca.pem&heartbeat=$heartbeat"
        done
        echo "$list"
    }
    echo "export BRIDGEBACK_AMQP_URL='$(urls bb-admin "$BB_PASSWORD_ADMIN")'"
    echo "export BRIDGEBACK_ADMISSION_AMQP_URL='$(urls bb-admission "$BB_PASSWORD_ADMISSION")'"
    echo "export BRIDGEBACK_WORKER_AMQP_URL='$(urls bb-worker "$BB_PASSWORD_WORKER")'"
    echo "export BRIDGEBACK_COORDINATOR_AMQP_URL='$(urls bb-coordinator "$BB_PASSWORD_COORDINATOR")'"
    echo "export BRIDGEBACK_WATCH_AMQP_URL='$(urls bb-watch "$BB_PASSWORD_WATCH")'"
    echo "export BRIDGEBACK_LAB_CA='$state/tls/ca.pem'"
    echo "export BRIDGEBACK_LAB_NET='$net'"
    # For `bridgeback status` on a broker host (each management API listens on its host's loopback).
    echo "export BRIDGEBACK_MANAGEMENT_USER='bb-monitor'"
    echo "export BRIDGEBACK_MANAGEMENT_PASSWORD='${BB_PASSWORD_MONITOR:-}'"
    echo "export BRIDGEBACK_LAB_SCRIPT='$here/netns-lab.sh'"
}

cmd_kill() {
    need_root
    local n=$1 pidfile="$state/broker$1/rabbitmq.pid" pid
    [ -f "$pidfile" ] || { log "broker $n is not running"; return 0; }
    pid="$(cat "$pidfile")"
    log "kill -9 broker $n (rabbit@broker$n.$domain)"
    pkill -9 -P "$pid" 2>/dev/null || true
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
}

# The broker number leading a quorum queue, asked of each broker's management API on its own loopback.
# Rounds over the three brokers for up to 45 s: on a loaded machine a management API can take
# seconds to answer, and a queue just declared or just failed over may not name a leader yet.
cmd_leader() {
    local queue=$1 creds="$state/broker1/credentials.env" leader n round
    # shellcheck disable=SC1090
    . "$creds"
    for round in $(seq 1 15); do
        [ "$round" -gt 1 ] && sleep 1
        for n in 1 2 3; do
            [ -f "$state/broker$n/rabbitmq.pid" ] || continue
            leader="$(BB_PASSWORD_ADMIN="$BB_PASSWORD_ADMIN" "$0" exec "broker$n" python3 - "$queue" <<'PY' 2>/dev/null
import base64, json, os, sys, urllib.parse, urllib.request
auth = base64.b64encode(("bb-admin:" + os.environ["BB_PASSWORD_ADMIN"]).encode()).decode()
url = "http://127.0.0.1:15672/api/queues/bridgeback/" + urllib.parse.quote(sys.argv[1], safe="")
with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Basic " + auth}), timeout=10) as r:
    print(json.load(r).get("leader", ""))
PY
            )" || continue
            case "$leader" in rabbit@broker[123].$domain) leader="${leader#rabbit@broker}"; echo "${leader%%.*}"; return 0 ;; esac
        done
    done
    die "no broker answered with a leader for $queue (15 rounds over the three brokers)"
}

cmd_link() {
    need_root
    local host=$1 state_=$2
    case "$state_" in up|down) ;; *) die "link $host: say up or down" ;; esac
    ip link set "$(cable "$host")" "$state_"
    log "$host: cable $state_"
}

# Blackhole routes on both sides: HOST cannot reach a broker, and no broker can reach HOST.
cmd_partition() {
    need_root
    local host=$1 mode=$2 verb n
    case "$mode" in on) verb=add ;; off) verb=del ;; *) die "partition $host: say on or off" ;; esac
    for n in 1 2 3; do
        ip -n "$(namespace "$host")" route "$verb" blackhole "$(address "broker$n")/32" 2>/dev/null || [ "$verb" = del ]
        ip -n "$(namespace "broker$n")" route "$verb" blackhole "$(address "$host")/32" 2>/dev/null || [ "$verb" = del ]
    done
    log "$host: partition from the brokers $mode"
}

# Blackhole routes between broker N and the other two brokers, both directions; clients still reach every broker.
cmd_isolate() {
    need_root
    local n=$1 mode=$2 verb m
    case "$n" in 1|2|3) ;; *) die "isolate: broker number 1-3, got '$n'" ;; esac
    case "$mode" in on) verb=add ;; off) verb=del ;; *) die "isolate $n: say on or off" ;; esac
    for m in 1 2 3; do
        [ "$m" = "$n" ] && continue
        ip -n "$(namespace "broker$n")" route "$verb" blackhole "$(address "broker$m")/32" 2>/dev/null || [ "$verb" = del ]
        ip -n "$(namespace "broker$m")" route "$verb" blackhole "$(address "broker$n")/32" 2>/dev/null || [ "$verb" = del ]
    done
    log "broker$n: cut off from the other brokers $mode"
}

# Every client connection as "N name": asked of the first broker (but EXCEPT) whose management API answers
# (each node lists the whole cluster's connections, as far as it sees the cluster).
cmd_connections() {
    local except=${1:-0} creds="$state/broker1/credentials.env" n out
    # shellcheck disable=SC1090
    . "$creds"
    for n in 1 2 3; do
        [ "$n" = "$except" ] && continue
        [ -f "$state/broker$n/rabbitmq.pid" ] || continue
        out="$(BB_PASSWORD_ADMIN="$BB_PASSWORD_ADMIN" "$0" exec "broker$n" python3 - <<'PY' 2>/dev/null
import base64, json, os, urllib.request
auth = base64.b64encode(("bb-admin:" + os.environ["BB_PASSWORD_ADMIN"]).encode()).decode()
url = "http://127.0.0.1:15672/api/connections?columns=node,name,client_properties"
with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Basic " + auth}), timeout=10) as r:
    for c in json.load(r):
        node = c.get("node", "")
        name = (c.get("client_properties") or {}).get("connection_name") or c.get("name", "")
        print(node.split("@broker")[-1].split(".")[0], name)
PY
        )" || continue
        printf '%s\n' "$out"
        return 0
    done
    die "no broker's management API answered"
}

cmd_hosts() {
    printf '%-8s %-12s %s\n' client "$(address client)" "(this namespace)"
    for h in "${hosts[@]}"; do printf '%-8s %-12s %s\n' "$h" "$(address "$h")" "$(namespace "$h")"; done
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    exec) shift; cmd_exec "${1:?host}" "${@:2}" ;;
    env) cmd_env ;;
    kill) cmd_kill "${2:?broker number}" ;;
    leader) cmd_leader "${2:?queue name}" ;;
    link) cmd_link "${2:?host}" "${3:?up or down}" ;;
    partition) cmd_partition "${2:?host}" "${3:?on or off}" ;;
    isolate) cmd_isolate "${2:?broker number}" "${3:?on or off}" ;;
    connections) cmd_connections "${2:-0}" ;;
    hosts) cmd_hosts ;;
    broker) shift; n="${1:?broker number}"; shift; broker "$n" "$@" ;;
    *) sed -n '2,35p' "$0"; exit 2 ;;
esac
