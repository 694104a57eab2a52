#!/bin/sh
# A stand-in for an agent command-line tool, for the `agent` recipe template (docs/worker.md,
# "An agent recipe"). It takes the request text as its one argument, "works" in three steps and
# reports through the progress protocol on standard output:
#   ::step N/M text      a state change, shown at once to whoever watches the work surface
#   ::progress P text    a routine update (the worker publishes these sparsely)
#   ::result text        one line of the answer; everything else printed is the agent's chatter
# Point the recipe's argv at your agent CLI instead (or at a wrapper that prints these lines).
# BRIDGEBACK_FAKE_AGENT_PAUSE: seconds between steps (default 1; the tests use 0).
set -eu
task="${1:?usage: fake-agent.sh REQUEST-TEXT}"
pause="${BRIDGEBACK_FAKE_AGENT_PAUSE:-1}"
words=$(printf '%s\n' "$task" | wc -w | tr -d ' ')

echo "::step 1/3 reading the request"
echo "fake-agent: request of $words words"
sleep "$pause"
echo "::step 2/3 gathering sources"
for n in 1 2 3 4; do
    echo "::progress $((n * 25)) read source $n of 4"
    sleep "$pause"
done
echo "::step 3/3 drafting the answer"
sleep "$pause"
echo "::result Draft for: $task"
echo "::result (4 sources read; written by fake-agent.sh, a stand-in for your agent CLI)"
