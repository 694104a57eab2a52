#!/bin/sh
# Stand-ins for a team's own release commands, driven by the `release-gate` checklist recipe
# (docs/worker.md, "A release gate"). Each action appends a line to the service's log in
# $BRIDGEBACK_GATE_STATE (default /tmp/bridgeback-gate) and speaks the progress protocol, so a
# watcher sees what the gate is doing. Replace the argv in the recipe with your real commands.
#   release.sh ACTION SERVICE VERSION [FAIL_AT]
#   ACTION: preflight | deps | deps-restore | canary-up | canary-down | validate | promote | status
set -eu
action="$1"; service="$2"; version="${3:-}"; fail_at="${4:-none}"
state="${BRIDGEBACK_GATE_STATE:-/tmp/bridgeback-gate}"
mkdir -p "$state"
log="$state/$service.log"
record() { echo "$action $version" >> "$log"; }

case "$action" in
    preflight)    record; echo "preflight ok for $service $version" ;;
    deps)         record; echo "dependencies pinned for $service" ;;
    deps-restore) record; echo "dependency lock restored" ;;
    canary-up)    record; echo "canary" > "$state/$service.status"; echo "canary staged: $service $version" ;;
    canary-down)  record; echo "withdrawn" > "$state/$service.status"; echo "canary withdrawn: $service" ;;
    validate)
        record
        for n in 1 2 3; do
            echo "::progress $((n * 33)) validation check $n of 3"
            if [ "$fail_at" = "validation" ] && [ "$n" = 2 ]; then
                echo "validation check 2 failed: error rate 4.2% > 1%" >&2
                exit 1
            fi
        done
        echo "validation passed: 3 of 3 checks" ;;
    promote)      record; echo "healthy" > "$state/$service.status"; echo "promoted $service $version" ;;
    status)       cat "$state/$service.status" 2>/dev/null || echo "unknown" ;;
    *)            echo "unknown action $action" >&2; exit 2 ;;
esac
