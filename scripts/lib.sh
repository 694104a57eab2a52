# Shared by scripts/demo and scripts/test: install what is missing, start the local broker,
# build. Sourced, not run.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"; else
            echo "Swift 6 is required (https://www.swift.org/install/linux/); put 'swift' on PATH and run again." >&2
            exit 1
        fi
    fi
}

# Sets $venv to a Python virtual environment with Celery (py-amqp comes with it): BRIDGEBACK_CELERY_VENV if it
# names one, else .venv-celery in the repository, created and filled from PyPI on first use.
celery_venv() {
    venv="${BRIDGEBACK_CELERY_VENV:-$repo/.venv-celery}"
    if [ ! -x "$venv/bin/celery" ]; then
        say "python virtual environment with Celery ($venv)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'celery>=5.5,<6'
    fi
}

# Starts the broker unless it already runs; remembers whether we started it.
STARTED_BROKER=0
start_broker() {
    deploy/local/broker.sh install
    if ! deploy/local/broker.sh status >/dev/null 2>&1; then
        deploy/local/broker.sh start
        STARTED_BROKER=1
    fi
    eval "$(deploy/local/broker.sh env)"
}

stop_broker_if_started() {
    if [ "$STARTED_BROKER" = 1 ] && [ "${BRIDGEBACK_KEEP_BROKER:-0}" != 1 ]; then
        deploy/local/broker.sh stop || true
    fi
}

# The fleet as background processes: webhook receiver, coordinator, two workers, admission, each
# with its own broker user and a log in $FLEET_STATE. Needs $bin and start_broker's environment.
# The HTTP APIs require bearer tokens: see fleet_principals.
# Ports: admission 8080, coordinator status 8090, webhook receiver 8099.
FLEET_PIDS=()
FLEET_STATE=""
FLEET_PRINCIPALS=""
fleet_wait_for() { # file, text; waits FLEET_WAIT_TENTHS (default 300) tenths of a second
    for _ in $(seq 1 "${FLEET_WAIT_TENTHS:-300}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "timed out waiting for '$2' in $1:" >&2
    tail -n 20 "$1" >&2
    return 1
}
# A script may define fleet_wrap to print a command that runs one fleet process (its name is $1) under another
# program, e.g. valgrind (scripts/bench-instructions); the default runs each as is.
declare -F fleet_wrap >/dev/null || fleet_wrap() { :; }
fleet_run() { # name, broker url, bridgeback arguments...
    local name=$1 url=$2 wrap=()
    shift 2
    read -r -a wrap <<<"$(fleet_wrap "$name")"
    BRIDGEBACK_AMQP_URL="$url" "${wrap[@]}" "$bin" "$@" >"$FLEET_STATE/$name.log" 2>&1 &
    FLEET_PIDS+=($!)
}
# Principals for the two HTTP APIs (nothing runs unauthenticated): alice submits as cli:alice
# to the local surfaces; ops is an operator. Tokens are written to $FLEET_STATE/<name>.token
# (mode 0600) and BRIDGEBACK_TOKEN_FILE points at alice's, so `bridgeback submit`, `jobs`,
# `watch` and `bench fleet` run as alice.
fleet_principals() {
    local file="$FLEET_STATE/principals.json"
    "$bin" principals add --file "$file" --name alice --origins cli:alice \
        --surfaces 'cli:alice,work:alice,hooks:local,file:results,pager:*,stdout' --parents alice \
        --note "the demo's person" --token-out "$FLEET_STATE/alice.token"
    "$bin" principals add --file "$file" --name ops --operator --note "reads every job" --token-out "$FLEET_STATE/ops.token"
    unset BRIDGEBACK_TOKEN
    export BRIDGEBACK_TOKEN_FILE="$FLEET_STATE/alice.token"
    FLEET_PRINCIPALS="$file"
}
# FLEET_RECIPES (default deploy/local/recipes.json) is the catalog admission and the workers load.
start_fleet() { # state dir, worker slots
    FLEET_STATE=$1
    local slots=${2:-2} recipes=${FLEET_RECIPES:-deploy/local/recipes.json}
    # An older build under comparison (scripts/bench-ab --base) may lack admission's --coordinator-url.
    local coordinator_url=(--coordinator-url http://127.0.0.1:8090)
    case "$("$bin" admission --help 2>&1 || true)" in *--coordinator-url*) ;; *) coordinator_url=() ;; esac
    for port in 8080 8090 8099; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "port $port is in use; stop what listens there (another demo or bench?) and run again" >&2
            return 1
        fi
    done
    rm -rf "$FLEET_STATE" && mkdir -p "$FLEET_STATE"
    fleet_principals
    BRIDGEBACK_AMQP_URL="" "$bin" receiver --surfaces deploy/local/surfaces.json --surface hooks:local \
        --out "$FLEET_STATE/webhook.jsonl" --log-level warning &
    FLEET_PIDS+=($!)
    fleet_run coordinator "$BRIDGEBACK_COORDINATOR_AMQP_URL" coordinator --data-dir "$FLEET_STATE/coordinator" \
        --surfaces deploy/local/surfaces.json --principals "$FLEET_PRINCIPALS"
    fleet_wait_for "$FLEET_STATE/coordinator.log" "coordinator consuming"
    for n in 1 2; do
        fleet_run "worker-$n" "$BRIDGEBACK_WORKER_AMQP_URL" worker --name "worker-$n" --slots "$slots" --progress-interval 2 \
            --recipes "$recipes"
        fleet_wait_for "$FLEET_STATE/worker-$n.log" "worker started"
    done
    fleet_run admission "$BRIDGEBACK_ADMISSION_AMQP_URL" admission --port 8080 --data-dir "$FLEET_STATE/admission" \
        --surfaces deploy/local/surfaces.json --recipes "$recipes" --principals "$FLEET_PRINCIPALS" "${coordinator_url[@]}"
    fleet_wait_for "$FLEET_STATE/admission.log" "admission listening"
    echo "fleet logs: $FLEET_STATE/{admission,coordinator,worker-1,worker-2}.log" >&2
}
stop_fleet() {
    if [ "${#FLEET_PIDS[@]}" -gt 0 ]; then
        say "stopping the fleet (SIGTERM: each process finishes what it holds)"
        kill -TERM "${FLEET_PIDS[@]}" 2>/dev/null || true
        wait "${FLEET_PIDS[@]}" 2>/dev/null || true
        FLEET_PIDS=()
    fi
}
