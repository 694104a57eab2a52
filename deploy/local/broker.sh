#!/usr/bin/env bash
# A local RabbitMQ for Bridgeback: no systemd, loopback only, its own state directory.
#
#   deploy/local/broker.sh install   apt-get install rabbitmq-server librabbitmq-dev libsqlite3-dev if missing
#   deploy/local/broker.sh start     start (idempotent), wait until ready, create users, write credentials
#   deploy/local/broker.sh stop      stop the node and its epmd
#   deploy/local/broker.sh restart   stop + start (durable queues and persistent messages survive)
#   deploy/local/broker.sh status    say whether it runs
#   deploy/local/broker.sh env       print the BRIDGEBACK_* variables for the local broker (eval-able)
#   deploy/local/broker.sh ctl ...   run rabbitmqctl against the local node
#   deploy/local/broker.sh join      join BRIDGEBACK_BROKER_JOIN's cluster (idempotent; start does it)
#   deploy/local/broker.sh watcher add NAME [--progress SURFACE]... [--inbox KEY]... [--print]
#                                    a scoped watch user bb-watch-NAME: it may bind only these work surfaces
#                                    (bb.progress) and inbox keys (bb.inbox), into bb.watch.NAME.* queues;
#                                    prints its BRIDGEBACK_WATCH_AMQP_URL (--print: the rabbitmqctl commands
#                                    for another broker instead, nothing is run)
#   deploy/local/broker.sh watcher show|remove NAME, watcher list
#
# Configuration (environment): BRIDGEBACK_BROKER_DIR (state, default deploy/local/state/broker),
# BRIDGEBACK_BROKER_PORT (5672), BRIDGEBACK_BROKER_MGMT_PORT (15672), BRIDGEBACK_BROKER_DIST_PORT (25672),
# BRIDGEBACK_BROKER_PROMETHEUS_PORT (15692: rabbitmq_prometheus on loopback; /metrics, /metrics/detailed),
# BRIDGEBACK_BROKER_NODE (bridgeback@localhost), BRIDGEBACK_CONSUMER_TIMEOUT_MS (default from deploy/limits.env: the
# workers read the same value; longer jobs are acked as they start, see docs/operations.md), BRIDGEBACK_BROKER_MAX_MESSAGE_BYTES (default from
# deploy/limits.env: the broker's max_message_size), BRIDGEBACK_BROKER_JOIN (a node to join as a cluster
# member instead of creating users: deploy/local/cluster.sh sets it for the second and third node),
# BRIDGEBACK_BROKER_TLS_DIR (a directory with ca.pem, server.pem and server.key: AMQP is then served
# over TLS only, on the same port; deploy/local/cluster.sh makes one with BRIDGEBACK_CLUSTER_TLS=1),
# BRIDGEBACK_BROKER_ADDRESS (127.0.0.1: the address AMQP, Erlang distribution and epmd listen on; a host's own
# address in deploy/local/netns-lab.sh, where the node name is then a long name, rabbit@broker1.bridgeback.test;
# management and Prometheus stay on loopback), BRIDGEBACK_BROKER_NET_TICKTIME (Erlang's net_ticktime in
# seconds, default 60: how long before a silent peer node counts as gone and pause_minority acts),
# BRIDGEBACK_BROKER_DIST_TLS (1: Erlang distribution between nodes, and the CLI tools' link to the node,
# over TLS with BRIDGEBACK_BROKER_TLS_DIR's CA and certificate, both peers verified; every node of the
# cluster must set it), BRIDGEBACK_BROKER_JOIN_LOCK (a file several nodes joining at once take in turn:
# two joins at the same moment can abort Mnesia's schema copy).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
state="${BRIDGEBACK_BROKER_DIR:-$here/state/broker}"
port="${BRIDGEBACK_BROKER_PORT:-5672}"
mgmt_port="${BRIDGEBACK_BROKER_MGMT_PORT:-15672}"
dist_port="${BRIDGEBACK_BROKER_DIST_PORT:-25672}"
prom_port="${BRIDGEBACK_BROKER_PROMETHEUS_PORT:-15692}"
node="${BRIDGEBACK_BROKER_NODE:-bridgeback@localhost}"
# The job-length limits live in one file (deploy/limits.env); the environment may override them.
limits_timeout="$(sed -n 's/^BRIDGEBACK_CONSUMER_TIMEOUT_MS=//p' "$here/../limits.env" 2>/dev/null || true)"
consumer_timeout="${BRIDGEBACK_CONSUMER_TIMEOUT_MS:-${limits_timeout:-7200000}}"
limits_message="$(sed -n 's/^BRIDGEBACK_BROKER_MAX_MESSAGE_BYTES=//p' "$here/../limits.env" 2>/dev/null || true)"
max_message_size="${BRIDGEBACK_BROKER_MAX_MESSAGE_BYTES:-${limits_message:-33554432}}"
join="${BRIDGEBACK_BROKER_JOIN:-}"
address="${BRIDGEBACK_BROKER_ADDRESS:-127.0.0.1}"
net_ticktime="${BRIDGEBACK_BROKER_NET_TICKTIME:-}"
tls_dir="${BRIDGEBACK_BROKER_TLS_DIR:-}"
dist_tls="${BRIDGEBACK_BROKER_DIST_TLS:-0}"
join_lock="${BRIDGEBACK_BROKER_JOIN_LOCK:-}"
vhost="bridgeback"
bin=/usr/lib/rabbitmq/bin

log() { printf '[broker] %s\n' "$*" >&2; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

cmd_install() {
    local missing=()
    for pkg in rabbitmq-server librabbitmq-dev libsqlite3-dev; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
    log "installing ${missing[*]} (apt-get)"
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # Debian's postinst tries to start the broker through systemd; policy-rc.d keeps it from
    # starting a second, root-owned broker on our ports.
    local prc=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee "$prc" >/dev/null; sudo_if_needed chmod +x "$prc"; created=1; fi
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    if [ "$created" = 1 ]; then sudo_if_needed rm -f "$prc"; fi
}

# Environment shared by the server and the CLI tools: same HOME (same Erlang cookie), same node.
broker_env() {
    export HOME="$state/home"
    export RABBITMQ_NODENAME="$node"
    export RABBITMQ_CONF_ENV_FILE="$state/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$state/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$state/advanced.config"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$state/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$state/mnesia"
    export RABBITMQ_LOG_BASE="$state/log"
    export RABBITMQ_PID_FILE="$state/rabbitmq.pid"
    export RABBITMQ_DIST_PORT="$dist_port"
    export ERL_EPMD_ADDRESS="$address"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {${address//./,}}"
    if [ "$dist_tls" = 1 ]; then
        # inet_tls_dist: the node and every CLI tool (rabbitmqctl is a distribution peer too) speak TLS, with
        # the arguments deploy/env/rabbitmq-env.conf gives a production node (this node's file paths).
        export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS $(dist_tls_args SERVER_ADDITIONAL_ERL_ARGS)"
        export RABBITMQ_CTL_ERL_ARGS="$(dist_tls_args CTL_ERL_ARGS)"
    fi
    # A node named after a fully qualified host (rabbit@broker1.example) needs Erlang's long names, in the
    # server and in every CLI tool that talks to it.
    case "${node#*@}" in *.*) export RABBITMQ_USE_LONGNAME=true ;; esac
}

ctl() { broker_env; "$bin/rabbitmqctl" -n "$node" "$@"; }

# VARIABLE's value in deploy/env/rabbitmq-env.conf (the shell that file is sourced by expands it), with this
# node's inter_node_tls.config instead of /etc/rabbitmq's.
dist_tls_args() {
    local line
    line="$(sed -n "s|^$1=||p" "$repo/deploy/env/rabbitmq-env.conf" | sed "s|/etc/rabbitmq/inter_node_tls.config|$state/inter_node_tls.config|")"
    [ -n "$line" ] || { log "no $1 in deploy/env/rabbitmq-env.conf"; exit 2; }
    eval "echo $line"
}

write_config() {
    mkdir -p "$state/home" "$state/mnesia" "$state/log"
    : > "$state/rabbitmq-env.conf"
    cat > "$state/rabbitmq.conf" <<CONF
# Generated by deploy/local/broker.sh: a single local node, loopback only.
listeners.tcp.1 = $address:$port
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt_port
# rabbitmq_prometheus: queue depth, consumers, rates per queue for Prometheus (deploy/monitoring/).
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $prom_port
# Workers hold a job's message unacked while it runs; jobs too long for this are acked as they start (limits.env).
consumer_timeout = $consumer_timeout
# The broker refuses a publish over this (deploy/limits.env); consumers cut bodies over
# BRIDGEBACK_MAX_MESSAGE_BYTES while reading them.
max_message_size = $max_message_size
loopback_users = none
# In a cluster, a node cut off from the majority pauses rather than diverging (quorum queues keep
# their leader on the majority side); a single node is never a minority.
cluster_partition_handling = pause_minority
log.file.level = info
log.console = false
disk_free_limit.absolute = 200MB
CONF
    if [ -n "$tls_dir" ]; then
        # AMQP over TLS only: the plain listener goes; clients verify this node's certificate.
        sed -i "s|^listeners.tcp.1 = .*|listeners.tcp = none|" "$state/rabbitmq.conf"
        cat >> "$state/rabbitmq.conf" <<CONF
listeners.ssl.1 = $address:$port
ssl_options.cacertfile = $tls_dir/ca.pem
ssl_options.certfile = $tls_dir/server.pem
ssl_options.keyfile = $tls_dir/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
    fi
    [ -z "$net_ticktime" ] || echo "net_ticktime = $net_ticktime" >> "$state/rabbitmq.conf"
    if [ "$dist_tls" = 1 ]; then
        [ -n "$tls_dir" ] || { log "BRIDGEBACK_BROKER_DIST_TLS=1 needs BRIDGEBACK_BROKER_TLS_DIR (ca.pem, server.pem, server.key)"; exit 2; }
        # deploy/cluster/inter_node_tls.config (both peers verified) with this node's certificate paths.
        sed "s|/etc/rabbitmq/tls/|$tls_dir/|g" "$repo/deploy/cluster/inter_node_tls.config" > "$state/inter_node_tls.config"
    fi
    echo '[].' > "$state/advanced.config"
    echo '[rabbitmq_management,rabbitmq_prometheus].' > "$state/enabled_plugins"
}

is_running() {
    [ -f "$state/rabbitmq.pid" ] && kill -0 "$(cat "$state/rabbitmq.pid")" 2>/dev/null
}

random_password() { head -c 18 /dev/urandom | base64 | tr -d '/+=' ; }

# Users and permissions come from topology/definitions.json (the template); passwords are
# generated once per state directory and written to credentials.env (mode 600) as
# BB_PASSWORD_<user without bb-, upper case, - as _> (bb-watch-alice: BB_PASSWORD_WATCH_ALICE).
# The template's topic_permissions (scoped watchers) are applied too.
password_var() { local short="${1#bb-}"; short="${short//-/_}"; echo "BB_PASSWORD_$(echo "$short" | tr a-z A-Z)"; }

ensure_password() { # user: appends a generated password to credentials.env unless it has one
    local creds="$state/credentials.env" var
    var="$(password_var "$1")"
    (
        umask 077
        touch "$creds"
        grep -q "^$var=" "$creds" || printf '%s=%s\n' "$var" "$(random_password)" >> "$creds"
    )
}

create_users() {
    local creds="$state/credentials.env"
    local stamp="$state/users.stamp" want
    python3 - "$repo/topology/definitions.json" "$state/users.tsv" "$state/topics.tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
perms = {p["user"]: p for p in d.get("permissions", [])}
with open(sys.argv[2], "w") as users:
    for u in d["users"]:
        p = perms.get(u["name"], {"configure": "", "write": "", "read": ""})
        users.write("\t".join([u["name"], ",".join(u.get("tags", [])) or "-", p["configure"] or "^$", p["write"] or "^$", p["read"] or "^$"]) + "\n")
with open(sys.argv[3], "w") as topics:
    for t in d.get("topic_permissions", []):
        topics.write("\t".join([t["user"], t["exchange"], t["write"] or "^$", t["read"] or "^$"]) + "\n")
PY
    # A user added to the template later (bb-monitor, bb-watch-alice) gets a password without changing the others'.
    local name
    while IFS=$'\t' read -r name _ <&3; do ensure_password "$name"; done 3< "$state/users.tsv"
    want="$(cat "$repo/topology/definitions.json" "$creds" | cksum)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    # shellcheck disable=SC1090
    . "$creds"
    ctl add_vhost "$vhost" >/dev/null 2>&1 || true
    while IFS=$'\t' read -r name tags conf write read <&3; do
        local var pass
        var="$(password_var "$name")"
        pass="${!var:-}"
        [ -n "$pass" ] || { log "no password for $name in $creds"; exit 1; }
        set_user "$name" "$pass"
        if [ "$tags" = "-" ]; then ctl set_user_tags "$name" >/dev/null; else ctl set_user_tags "$name" ${tags//,/ } >/dev/null; fi
        ctl set_permissions -p "$vhost" "$name" "$conf" "$write" "$read" >/dev/null
    done 3< "$state/users.tsv"
    local exchange
    while IFS=$'\t' read -r name exchange write read <&3; do
        ctl set_topic_permissions -p "$vhost" "$name" "$exchange" "$write" "$read" >/dev/null
    done 3< "$state/topics.tsv"
    ctl delete_user guest >/dev/null 2>&1 || true
    cat "$repo/topology/definitions.json" "$creds" | cksum > "$stamp"
}

set_user() { # name, password: add or change
    if ctl list_users -q 2>/dev/null | awk '{print $1}' | grep -qx "$1"; then
        ctl change_password "$1" "$2" >/dev/null
    else
        ctl add_user "$1" "$2" >/dev/null
    fi
}

# Scoped watchers (issue 10, item 6). bb-watch-NAME may declare, bind and read only bb.watch.NAME.*
# queues, read bb.progress and bb.inbox, and - through topic permissions, which RabbitMQ checks on
# queue.bind against the binding key - bind only the listed work surfaces and inbox keys: '#', a
# wildcard or another person's key is refused with ACCESS_REFUSED. bridgeback watch and bridgeback mcp
# name their queues bb.watch.NAME.* when connected as bb-watch-NAME (Sources/BridgebackCore/WatchQueues.swift).
watcher_regex() { # keys...: ^(k1|k2)$ with each key escaped; ^$ (nothing) without keys
    python3 -c 'import re, sys; k = sys.argv[1:]; print("^(" + "|".join(re.escape(x) for x in k) + ")$" if k else "^$")' "$@"
}

valid_watcher_name() { [[ "$1" =~ ^[a-z0-9][a-z0-9-]{0,31}$ ]] && [ "$1" != inbox ] && [ "$1" != mcp ]; }

cmd_watcher() {
    local sub="${1:-}"; shift || true
    case "$sub" in
        add) watcher_add "$@" ;;
        show)
            local name="${1:?watcher show NAME}"
            ctl list_user_permissions "bb-watch-$name"
            ctl list_user_topic_permissions "bb-watch-$name" ;;
        remove)
            local name="${1:?watcher remove NAME}" var
            valid_watcher_name "$name" || { log "'$name' is not a watcher name"; exit 2; }
            ctl delete_user "bb-watch-$name" >/dev/null
            var="$(password_var "bb-watch-$name")"
            sed -i "/^$var=/d" "$state/credentials.env"
            log "removed bb-watch-$name (its bb.watch.$name.* queues stay until deleted)" ;;
        list) ctl list_users -q | awk '$1 ~ /^bb-watch-/ {print $1}' ;;
        *) echo "usage: $0 watcher add NAME [--progress SURFACE]... [--inbox KEY]... [--print] | show NAME | remove NAME | list" >&2; exit 2 ;;
    esac
}

watcher_add() {
    local name="${1:-}" print=0 progress=() inbox=()
    shift || true
    valid_watcher_name "$name" || {
        log "watcher names are 1-32 characters from a-z 0-9 - (not 'inbox' or 'mcp'): got '$name'"; exit 2; }
    while [ $# -gt 0 ]; do
        case "$1" in
            --progress) progress+=("${2:?--progress needs a work surface id}"); shift 2 ;;
            --inbox) inbox+=("${2:?--inbox needs a bb.inbox routing key (a parent id or an inbox address)}"); shift 2 ;;
            --print) print=1; shift ;;
            *) log "unknown argument '$1'"; exit 2 ;;
        esac
    done
    local key
    for key in "${progress[@]}" "${inbox[@]}"; do
        [[ "$key" =~ ^[A-Za-z0-9:._/@-]{1,255}$ ]] || { log "'$key' is not a surface id or inbox key (A-Z a-z 0-9 : . _ / @ -, no wildcards)"; exit 2; }
    done
    [ "${#progress[@]}" -gt 0 ] || [ "${#inbox[@]}" -gt 0 ] || { log "name at least one --progress SURFACE or --inbox KEY"; exit 2; }
    local user="bb-watch-$name" queues read_re progress_re inbox_re
    queues="^bb\.watch\.${name}\..*\$"
    read_re="^(bb\.progress|bb\.inbox|bb\.watch\.${name}\..*)\$"
    progress_re="$(watcher_regex ${progress[@]+"${progress[@]}"})"
    inbox_re="$(watcher_regex ${inbox[@]+"${inbox[@]}"})"
    if [ "$print" = 1 ]; then
        echo "rabbitmqctl add_user '$user' '<password>'"
        echo "rabbitmqctl set_permissions -p '$vhost' '$user' '$queues' '$queues' '$read_re'"
        echo "rabbitmqctl set_topic_permissions -p '$vhost' '$user' bb.progress '^\$' '$progress_re'"
        echo "rabbitmqctl set_topic_permissions -p '$vhost' '$user' bb.inbox '^\$' '$inbox_re'"
        return 0
    fi
    is_running || { log "the broker is not running: '$0 start' first (or --print for another broker)"; exit 1; }
    ensure_password "$user"
    local var pass
    var="$(password_var "$user")"
    pass="$(sed -n "s/^$var=//p" "$state/credentials.env")"
    set_user "$user" "$pass"
    ctl set_user_tags "$user" >/dev/null
    ctl set_permissions -p "$vhost" "$user" "$queues" "$queues" "$read_re" >/dev/null
    # Both exchanges always get a topic permission: RabbitMQ allows every key on an exchange
    # for which a user has none.
    ctl set_topic_permissions -p "$vhost" "$user" bb.progress '^$' "$progress_re" >/dev/null
    ctl set_topic_permissions -p "$vhost" "$user" bb.inbox '^$' "$inbox_re" >/dev/null
    log "watcher $user: progress of ${progress[*]:-(none)}; inbox keys ${inbox[*]:-(none)}; queues bb.watch.$name.*"
    echo "export BRIDGEBACK_WATCH_AMQP_URL='amqp://$user:$pass@127.0.0.1:$port/$vhost'"
}

# Ready means every listener takes connections. On a host address, check_port_connectivity would probe the
# loopback-only management and Prometheus listeners at the host's name, so there it checks AMQP's port.
ready() {
    if [ "$address" = 127.0.0.1 ]; then
        "$bin/rabbitmq-diagnostics" -n "$node" -q check_port_connectivity >/dev/null 2>&1
    else
        "$bin/rabbitmq-diagnostics" -n "$node" -q check_running >/dev/null 2>&1 \
            && "$bin/rabbitmq-diagnostics" -n "$node" -q check_port_listener "$port" >/dev/null 2>&1
    fi
}

cmd_start() {
    cmd_install
    if is_running; then
        log "already running ($node on $address:$port)"
        grep -q rabbitmq_prometheus "$state/enabled_plugins" 2>/dev/null \
            || log "this node was started without rabbitmq_prometheus; '$0 restart' enables it on 127.0.0.1:$prom_port"
        if [ -n "$join" ]; then join_cluster; else create_users; fi
        return 0
    fi
    write_config
    broker_env
    log "starting $node on $address:$port (state in $state)"
    # Daemon hygiene: the broker must not inherit our caller's descriptors (a test runner's
    # pipes or exit-watch sockets would stay open for the broker's whole life).
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nohup "$bin/rabbitmq-server" > "$state/log/server.out" 2>&1 < /dev/null
    ) &
    echo $! > "$state/rabbitmq.pid"
    local deadline=$((SECONDS + 120))
    until ready; do
        if ! is_running; then log "the broker exited during start; last lines of its output:"; tail -n 30 "$state/log/server.out" >&2; exit 1; fi
        if [ $SECONDS -ge $deadline ]; then log "timed out waiting for the broker"; tail -n 30 "$state/log/server.out" >&2; exit 1; fi
        sleep 1
    done
    if [ -n "$join" ]; then join_cluster; else create_users; fi
    log "ready: amqp://$address:$port/$vhost, management http://127.0.0.1:$mgmt_port, prometheus http://127.0.0.1:$prom_port/metrics"
}

# Makes this node a member of $join's cluster (idempotent). Users, vhost, permissions and policies
# are cluster-wide, so the joined node has them from the cluster.
join_cluster() {
    if ctl cluster_status 2>/dev/null | grep -q "$join"; then return 0; fi
    if [ -n "$join_lock" ] && [ "${BRIDGEBACK_BROKER_JOIN_LOCKED:-}" != 1 ]; then
        # One join at a time: re-run this step under the lock (which the caller's other nodes share).
        BRIDGEBACK_BROKER_JOIN_LOCKED=1 flock "$join_lock" "$0" join
        return
    fi
    log "joining $node to the cluster of $join"
    ctl stop_app >"$state/log/join.out" 2>&1
    ctl reset >>"$state/log/join.out" 2>&1
    ctl join_cluster "$join" >>"$state/log/join.out" 2>&1 || { log "join failed:"; cat "$state/log/join.out" >&2; exit 1; }
    ctl start_app >>"$state/log/join.out" 2>&1
}

cmd_stop() {
    if ! is_running; then log "not running"; return 0; fi
    local pid; pid="$(cat "$state/rabbitmq.pid")"
    log "stopping $node"
    ctl stop "$state/rabbitmq.pid" >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "still running after 30 s; killing"; kill -9 "$pid" || true; }
    rm -f "$state/rabbitmq.pid"
    broker_env
    epmd -names 2>/dev/null | grep -q '^name ' || epmd -kill >/dev/null 2>&1 || true
}

cmd_env() {
    local creds="$state/credentials.env"
    [ -f "$creds" ] || { log "no credentials yet: run '$0 start' first"; exit 1; }
    # shellcheck disable=SC1090
    . "$creds"
    echo "export BRIDGEBACK_AMQP_URL='amqp://bb-admin:$BB_PASSWORD_ADMIN@127.0.0.1:$port/$vhost'"
    echo "export BRIDGEBACK_ADMISSION_AMQP_URL='amqp://bb-admission:$BB_PASSWORD_ADMISSION@127.0.0.1:$port/$vhost'"
    echo "export BRIDGEBACK_WORKER_AMQP_URL='amqp://bb-worker:$BB_PASSWORD_WORKER@127.0.0.1:$port/$vhost'"
    echo "export BRIDGEBACK_COORDINATOR_AMQP_URL='amqp://bb-coordinator:$BB_PASSWORD_COORDINATOR@127.0.0.1:$port/$vhost'"
    echo "export BRIDGEBACK_WATCH_AMQP_URL='amqp://bb-watch:$BB_PASSWORD_WATCH@127.0.0.1:$port/$vhost'"
    # Scoped watchers (the template's bb-watch-alice, any 'watcher add'): BRIDGEBACK_WATCH_<NAME>_AMQP_URL.
    local var name
    for var in $(sed -n 's/^\(BB_PASSWORD_WATCH_[A-Z0-9_]*\)=.*/\1/p' "$creds"); do
        name="$(echo "${var#BB_PASSWORD_WATCH_}" | tr A-Z_ a-z-)"
        echo "export BRIDGEBACK_WATCH_${var#BB_PASSWORD_WATCH_}_AMQP_URL='amqp://bb-watch-$name:${!var}@127.0.0.1:$port/$vhost'"
    done
    echo "export BRIDGEBACK_BROKER_SCRIPT='$here/broker.sh'"
    echo "export BRIDGEBACK_MANAGEMENT_URL='http://127.0.0.1:$mgmt_port'"
    echo "export BRIDGEBACK_MANAGEMENT_USER='bb-monitor'"
    echo "export BRIDGEBACK_MANAGEMENT_PASSWORD='${BB_PASSWORD_MONITOR:-}'"
    echo "export BRIDGEBACK_BROKER_PROMETHEUS_URL='http://127.0.0.1:$prom_port'"
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) if is_running; then echo "running: $node pid $(cat "$state/rabbitmq.pid")"; else echo "stopped"; exit 3; fi ;;
    env) cmd_env ;;
    ctl) shift; ctl "$@" ;;
    join) [ -n "$join" ] || { log "join: BRIDGEBACK_BROKER_JOIN names no node"; exit 2; }; join_cluster ;;
    watcher) shift; cmd_watcher "$@" ;;
    *) sed -n '2,35p' "$0"; exit 2 ;;
esac
