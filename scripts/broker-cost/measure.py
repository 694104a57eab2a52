"""The broker's own CPU per message for the ways Bridgeback uses it (scripts/bench-broker-cost).

Drives a local RabbitMQ with py-amqp and reads the broker's CPU time from /proc/<beam.smp>/stat around
each phase, so this client's own CPU does not count. Prints microseconds of broker CPU per message.
"""

import argparse
import os
import subprocess
import time
import urllib.parse

import amqp


def broker_cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(url):
    u = urllib.parse.urlparse(url)
    connection = amqp.Connection(
        host=f"{u.hostname}:{u.port or 5672}", userid=urllib.parse.unquote(u.username),
        password=urllib.parse.unquote(u.password), virtual_host=urllib.parse.unquote(u.path[1:]) or "/")
    connection.connect()
    return connection


def consume_and_ack(url, pid, count, every, quorum):
    """Deliver `count` persistent messages to one consumer and ack every `every`-th (multiple when > 1)."""
    connection = connect(url)
    channel = connection.channel()
    queue = f"bb.bench.settle.{'quorum' if quorum else 'classic'}.{os.getpid()}"
    channel.queue_declare(queue, durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"} if quorum else {})
    channel.confirm_select()
    body = b"x" * 600
    for _ in range(count):
        channel.basic_publish(amqp.Message(body, delivery_mode=2), routing_key=queue)
    time.sleep(1)  # the publishes' own work done
    channel.basic_qos(0, 200, False)
    got = [0]

    def on_message(message):
        got[0] += 1
        if got[0] % every == 0:
            channel.basic_ack(message.delivery_tag, multiple=every > 1)

    tag = channel.basic_consume(queue, callback=on_message)
    before = broker_cpu(pid)
    while got[0] < count:
        connection.drain_events(timeout=10)
    time.sleep(0.5)
    spent = broker_cpu(pid) - before
    channel.basic_cancel(tag)
    channel.queue_delete(queue)
    connection.close()
    return 1e6 * spent / count


def publish(url, pid, count, target, confirm):
    connection = connect(url)
    channel = connection.channel()
    queue = f"bb.bench.publish.{os.getpid()}"
    exchange = f"bb.bench.topic.{os.getpid()}"
    channel.queue_declare(queue, durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"})
    channel.exchange_declare(exchange, "topic", durable=False, auto_delete=False)
    if confirm:
        channel.confirm_select()  # py-amqp then waits for each confirm
    body = b"x" * 600
    before = broker_cpu(pid)
    for _ in range(count):
        if target == "quorum":
            channel.basic_publish(amqp.Message(body, delivery_mode=2), routing_key=queue)
        else:
            channel.basic_publish(amqp.Message(body, delivery_mode=2), exchange=exchange, routing_key="surface.a.b")
    time.sleep(1)
    spent = broker_cpu(pid) - before
    channel.queue_delete(queue)
    channel.exchange_delete(exchange)
    connection.close()
    return 1e6 * spent / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("BRIDGEBACK_AMQP_URL"))
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pid = int(subprocess.check_output(["pgrep", "-f", "beam.smp"]).split()[0])
    phases = [
        ("deliver + ack, quorum queue, one ack per message", lambda: consume_and_ack(args.url, pid, args.count, 1, True)),
        ("deliver + ack, quorum queue, one multiple ack per 8", lambda: consume_and_ack(args.url, pid, args.count, 8, True)),
        ("deliver + ack, quorum queue, one multiple ack per 32", lambda: consume_and_ack(args.url, pid, args.count, 32, True)),
        ("deliver + ack, classic durable queue, one ack per message", lambda: consume_and_ack(args.url, pid, args.count, 1, False)),
        ("deliver + ack, classic durable queue, one multiple ack per 32", lambda: consume_and_ack(args.url, pid, args.count, 32, False)),
        ("publish with confirm, quorum queue", lambda: publish(args.url, pid, args.count, "quorum", True)),
        ("publish with confirm, topic exchange, no queue bound", lambda: publish(args.url, pid, args.count, "topic", True)),
        ("publish without confirm, topic exchange, no queue bound", lambda: publish(args.url, pid, args.count, "topic", False)),
    ]
    print(f"broker CPU per message, µs ({args.count} messages per phase, {args.rounds} rounds)")
    for name, run in phases:
        figures = [run() for _ in range(args.rounds)]
        print(f"  {name:62} " + "  ".join(f"{f:6.1f}" for f in figures))


if __name__ == "__main__":
    main()
