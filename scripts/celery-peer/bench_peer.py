"""The Celery peer of `bridgeback bench fleet` (issue #12), run by scripts/bench-celery.

The nearest Celery equivalent of a Bridgeback no-op job with a final delivery: a `noop` task
on a quorum queue (publisher confirms, acks_late) whose `link` task writes the final record
into SQLite with INSERT OR IGNORE (idempotent, like a delivery the receiver deduplicates),
committed with synchronous=FULL like the coordinator's ledger. Each record carries the
moment it was committed (CLOCK_MONOTONIC, system-wide on Linux), so latency is measured
where the result lands, not where the client notices it.

    python bench_peer.py worker            # a Celery worker (prefork, 2 processes)
    python bench_peer.py bench --jobs 5000 --samples 200 --json-out FILE
"""
import argparse
import json
import os
import sqlite3
import sys
import threading
import time
import uuid

from celery import Celery
from kombu import Exchange, Queue

QUEUE = "bb.celery.bench"
BROKER = os.environ.get("BRIDGEBACK_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
DB = os.environ.get("CELERY_PEER_DB", "/tmp/bb-celery-peer.sqlite")

app = Celery("bench_peer", broker=BROKER)
app.conf.update(
    task_queues=[Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE, queue_arguments={"x-queue-type": "quorum"})],
    task_default_queue=QUEUE,
    task_default_exchange=QUEUE,
    task_default_routing_key=QUEUE,
    broker_transport_options={"confirm_publish": True},
    task_acks_late=True,
    task_ignore_result=True,
    worker_detect_quorum_queues=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

_db = threading.local()


def _connection():
    if getattr(_db, "conn", None) is None:
        conn = sqlite3.connect(DB, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS final (job_id TEXT PRIMARY KEY, done_at REAL NOT NULL)")
        _db.conn = conn
    return _db.conn


@app.task(name="bench.noop")
def noop(job_id):
    return job_id


@app.task(name="bench.record")
def record(job_id):
    conn = _connection()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR IGNORE INTO final (job_id, done_at) VALUES (?, ?)", (job_id, time.monotonic()))
    conn.execute("COMMIT")


def submit(job_id):
    noop.apply_async((job_id,), link=record.s())


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(-(-len(values) * p // 1)) - 1))]


def wait_for(conn, ids, timeout, poll):
    """Done times of `ids`, polling the final table; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    found = {}
    pending = list(ids)
    while pending:
        for start in range(0, len(pending), 500):
            chunk = pending[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for job_id, done_at in conn.execute(f"SELECT job_id, done_at FROM final WHERE job_id IN ({marks})", chunk):
                found[job_id] = done_at
        pending = [i for i in pending if i not in found]
        if pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(pending)} of {len(ids)} Celery jobs did not finish within {timeout} s; is the worker running?")
            time.sleep(poll)
    return found


def bench(args):
    conn = _connection()
    # Warm-up (connections, pools).
    for _ in range(20):
        job_id = uuid.uuid4().hex
        submit(job_id)
        wait_for(conn, [job_id], 60, 0.0005)

    ids = [uuid.uuid4().hex for _ in range(args.jobs)]
    sent = {}
    lock = threading.Lock()
    cursor = iter(ids)

    def producer():
        while True:
            with lock:
                job_id = next(cursor, None)
            if job_id is None:
                return
            at = time.monotonic()
            submit(job_id)
            sent[job_id] = at

    # This process's CPU over the throughput run (all threads: the producers publishing with
    # confirms straight to the broker, and the polling of the final table), like bench fleet's
    # "bench-client" row.
    cpu_start = time.process_time()
    start = time.monotonic()
    threads = [threading.Thread(target=producer) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submit_end = time.monotonic()
    done = wait_for(conn, ids, max(120, args.jobs / 10), 0.01)
    end = max(done.values())
    client_cpu = time.process_time() - cpu_start
    throughput = args.jobs / (end - start)
    loaded = [done[i] - sent[i] for i in ids]

    idle = []
    for _ in range(args.samples):
        job_id = uuid.uuid4().hex
        at = time.monotonic()
        submit(job_id)
        idle.append(wait_for(conn, [job_id], 60, 0.0002)[job_id] - at)

    result = {
        "jobs": args.jobs, "jobs_per_s": throughput, "submits_per_s": args.jobs / (submit_end - start),
        "loaded_p50_ms": percentile(loaded, 0.5) * 1000, "loaded_p99_ms": percentile(loaded, 0.99) * 1000,
        "idle_p50_ms": percentile(idle, 0.5) * 1000, "idle_p99_ms": percentile(idle, 0.99) * 1000,
        "client_cpu_ms_per_job": client_cpu / args.jobs * 1000,
    }
    print(
        f"celery: {throughput:.0f} jobs/s ({args.jobs} jobs, {args.concurrency} producer threads, "
        f"submits at {result['submits_per_s']:.0f}/s); "
        f"idle p50 {result['idle_p50_ms']:.1f} ms, p99 {result['idle_p99_ms']:.1f} ms; "
        f"this client's CPU {result['client_cpu_ms_per_job']:.3f} ms per job")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="run a Celery worker (prefork)")
    worker.add_argument("--concurrency", type=int, default=2)
    b = sub.add_parser("bench", help="submit jobs and time them to their final record")
    b.add_argument("--jobs", type=int, default=5000)
    b.add_argument("--samples", type=int, default=200)
    b.add_argument("--concurrency", type=int, default=8, help="producer threads")
    b.add_argument("--json-out")
    args = parser.parse_args()
    if args.command == "worker":
        app.worker_main([
            "worker", "--pool", "prefork", "--concurrency", str(args.concurrency), "--queues", QUEUE,
            "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "WARNING",
        ])
    else:
        bench(args)


if __name__ == "__main__":
    main()
