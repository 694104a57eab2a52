#!/usr/bin/env bash
# A local three-node RabbitMQ cluster for Bridgeback: three nodes on one machine (distinct node names
# and ports, one Erlang cookie), loopback only, the same users, vhost and policies as broker.sh.
#
#   deploy/local/cluster.sh start          start the three nodes (idempotent) and join them into one cluster
#   deploy/local/cluster.sh stop           stop every node
#   deploy/local/cluster.sh status         each node: running or stopped; then the cluster's view
#   deploy/local/cluster.sh env            BRIDGEBACK_* variables with every node in each URL (eval-able)
#   deploy/local/cluster.sh kill N         kill -9 node N (1-3): a crashed broker host
#   deploy/local/cluster.sh start-node N   start node N again; it rejoins and catches up
#   deploy/local/cluster.sh leader QUEUE   the node number (1-3) that leads a quorum queue
#   deploy/local/cluster.sh ctl N ARGS...  rabbitmqctl against node N
#
# Configuration (environment): BRIDGEBACK_CLUSTER_DIR (state, default deploy/local/state/cluster),
# BRIDGEBACK_CLUSTER_BASE_PORT (5681: AMQP ports 5681-5683, management 15681-15683, distribution
# 25681-25683, Prometheus 15791-15793), BRIDGEBACK_CLUSTER_NAME (bbc: nodes bbc1@localhost ...),
# BRIDGEBACK_CLUSTER_TLS (1: generate a private CA and a certificate for localhost in $state/tls on first
# start, serve AMQP over TLS only, and print amqps:// URLs that verify the nodes against that CA).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${BRIDGEBACK_CLUSTER_DIR:-$here/state/cluster}"
base="${BRIDGEBACK_CLUSTER_BASE_PORT:-5681}"
name="${BRIDGEBACK_CLUSTER_NAME:-bbc}"
tls="${BRIDGEBACK_CLUSTER_TLS:-0}"
nodes=(1 2 3)

log() { printf '[cluster] %s\n' "$*" >&2; }

node_name() { echo "$name$1@localhost"; }

# broker.sh for node N, with that node's state directory, ports and (for 2 and 3) the node to join.
node() {
    local n=$1; shift
    local join=""
    [ "$n" = 1 ] || join="$(node_name 1)"
    env BRIDGEBACK_BROKER_DIR="$state/node$n" \
        BRIDGEBACK_BROKER_PORT=$((base + n - 1)) \
        BRIDGEBACK_BROKER_MGMT_PORT=$((base + 10000 + n - 1)) \
        BRIDGEBACK_BROKER_DIST_PORT=$((base + 20000 + n - 1)) \
        BRIDGEBACK_BROKER_PROMETHEUS_PORT=$((base + 10110 + n - 1)) \
        BRIDGEBACK_BROKER_NODE="$(node_name "$n")" \
        BRIDGEBACK_BROKER_JOIN="$join" \
        BRIDGEBACK_BROKER_TLS_DIR="$([ "$tls" = 1 ] && echo "$state/tls")" \
        "$here/broker.sh" "$@"
}

# Nodes 2 and 3 share node 1's Erlang cookie (to cluster at all) and its generated passwords.
share_secrets() {
    local n=$1
    mkdir -p "$state/node$n/home"
    install -m 400 "$state/node1/home/.erlang.cookie" "$state/node$n/home/.erlang.cookie"
    install -m 600 "$state/node1/credentials.env" "$state/node$n/credentials.env"
}

# A private CA and one server certificate (localhost, 127.0.0.1) shared by the three nodes (tls.sh).
make_certificates() {
    "$here/tls.sh" ca "$state/tls"
    "$here/tls.sh" cert "$state/tls" server DNS:localhost IP:127.0.0.1
}

cmd_start() {
    [ "$tls" = 1 ] && make_certificates
    node 1 start
    for n in 2 3; do
        share_secrets "$n"
        node "$n" start
    done
    log "cluster ready: $(node_name 1), $(node_name 2), $(node_name 3) on 127.0.0.1:$base-$((base + 2))"
}

cmd_start_node() {
    local n=$1
    [ "$n" = 1 ] || share_secrets "$n"
    node "$n" start
}

cmd_kill() {
    local n=$1
    local pidfile="$state/node$n/rabbitmq.pid"
    [ -f "$pidfile" ] || { log "node $n is not running"; return 0; }
    log "kill -9 node $n ($(node_name "$n"))"
    # The pid file names the node's Erlang VM; its helpers (erl_child_setup) go with it.
    local pid; pid="$(cat "$pidfile")"
    pkill -9 -P "$pid" 2>/dev/null || true
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
}

cmd_stop() {
    # Followers first, so the last node standing does not wait for peers on its way down.
    for n in 3 2 1; do node "$n" stop || true; done
}

cmd_status() {
    local rc=0
    for n in "${nodes[@]}"; do
        printf 'node %s (%s): ' "$n" "$(node_name "$n")"
        node "$n" status || rc=3
    done
    for n in "${nodes[@]}"; do
        if node "$n" status >/dev/null 2>&1; then
            node "$n" ctl cluster_status --formatter json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("cluster members:", ", ".join(s.get("disk_nodes", [])))
print("running:        ", ", ".join(s.get("running_nodes", [])))
print("partitions:     ", s.get("partitions") or "none")'
            break
        fi
    done
    return $rc
}

cmd_env() {
    local creds="$state/node1/credentials.env"
    [ -f "$creds" ] || { log "no credentials yet: run '$0 start' first"; exit 1; }
    # shellcheck disable=SC1090
    . "$creds"
    urls() { # user password
        local list="" n
        for n in "${nodes[@]}"; do
            if [ "$tls" = 1 ]; then
                list+="${list:+,}amqps://$1:$2@localhost:$((base + n - 1))/bridgeback?cacertfile=$state/tls/ca.pem"
            else
                list+="${list:+,}amqp://$1:$2@127.0.0.1:$((base + n - 1))/bridgeback"
            fi
        done
        echo "$list"
    }
    echo "export BRIDGEBACK_AMQP_URL='$(urls bb-admin "$BB_PASSWORD_ADMIN")'"
    echo "export BRIDGEBACK_ADMISSION_AMQP_URL='$(urls bb-admission "$BB_PASSWORD_ADMISSION")'"
    echo "export BRIDGEBACK_WORKER_AMQP_URL='$(urls bb-worker "$BB_PASSWORD_WORKER")'"
    echo "export BRIDGEBACK_COORDINATOR_AMQP_URL='$(urls bb-coordinator "$BB_PASSWORD_COORDINATOR")'"
    echo "export BRIDGEBACK_WATCH_AMQP_URL='$(urls bb-watch "$BB_PASSWORD_WATCH")'"
    echo "export BRIDGEBACK_MANAGEMENT_URL='http://127.0.0.1:$((base + 10000))'"
    echo "export BRIDGEBACK_CLUSTER_SCRIPT='$here/cluster.sh'"
}

# The node number leading a quorum queue, from the management API (admin credentials).
cmd_leader() {
    local queue=$1 creds="$state/node1/credentials.env" leader n
    # shellcheck disable=SC1090
    . "$creds"
    leader="$(BB_PASSWORD_ADMIN="$BB_PASSWORD_ADMIN" python3 - "$queue" "$base" <<'PY'
import base64, json, os, sys, urllib.error, urllib.parse, urllib.request
queue, base = sys.argv[1], int(sys.argv[2])
auth = base64.b64encode(("bb-admin:" + os.environ["BB_PASSWORD_ADMIN"]).encode()).decode()
for n in range(3):  # any live node answers for the whole cluster
    url = "http://127.0.0.1:%d/api/queues/bridgeback/%s" % (base + 10000 + n, urllib.parse.quote(queue, safe=""))
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Basic " + auth}), timeout=5) as r:
            print(json.load(r).get("leader", ""))
            sys.exit(0)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            sys.exit(2)
    except Exception:
        continue
sys.exit(1)
PY
)" || { [ $? = 2 ] && log "no queue $queue in vhost bridgeback" || log "no node answered the management API"; return 1; }
    for n in "${nodes[@]}"; do
        if [ "$leader" = "$(node_name "$n")" ]; then echo "$n"; return 0; fi
    done
    log "queue $queue has no leader yet ('$leader')"
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    kill) cmd_kill "${2:?node number}" ;;
    start-node) cmd_start_node "${2:?node number}" ;;
    leader) cmd_leader "${2:?queue name}" ;;
    ctl) n="${2:?node number}"; shift 2; node "$n" ctl "$@" ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
esac
