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
