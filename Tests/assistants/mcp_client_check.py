"""Drives `bridgeback mcp` with the official MCP Python client (PyPI `mcp`) against a running fleet.

Run by Tests/BridgebackIntegrationTests/AssistantIntegrationTests.swift, which starts the fleet and
passes its addresses in the environment:

  BRIDGEBACK_BIN            the bridgeback binary
  BB_ADMISSION_URL          admission base URL
  BB_COORDINATOR_URL        coordinator status API base URL
  BB_ORIGIN, BB_PARENT      the test's origin inbox surface and its parent key
  BRIDGEBACK_WATCH_AMQP_URL broker URL of the bb-watch user
  BB_TOKEN                  alice's token: the principal whose parents scope covers BB_PARENT
  BB_OTHER_TOKEN            bob's token: another principal (other origins, other parents)
  BB_PRINCIPALS             the principals file admission uses (the HTTP transport uses it too)

Exits 0 when every check passed; otherwise prints what failed and exits 1. Each step prints a line.
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

BIN = os.environ["BRIDGEBACK_BIN"]
ADMISSION = os.environ["BB_ADMISSION_URL"]
COORDINATOR = os.environ["BB_COORDINATOR_URL"]
ORIGIN = os.environ["BB_ORIGIN"]
PARENT = os.environ["BB_PARENT"]
ALICE_TOKEN = os.environ["BB_TOKEN"]
BOB_TOKEN = os.environ["BB_OTHER_TOKEN"]
PRINCIPALS = os.environ["BB_PRINCIPALS"]

EXPECTED_TOOLS = {
    "bridgeback_decide", "bridgeback_detach", "bridgeback_job", "bridgeback_jobs",
    "bridgeback_cancel", "bridgeback_inbox", "bridgeback_outcome",
}
DETACH_TEXT = "Verify that the fix for the login timeout works in staging and production and confirm the error rate dropped."
INLINE_TEXT = "What's the capital of Portugal?"

# Every notice taken, across every session: job id -> how many times it was taken.
taken = {}


def step(text):
    print(f"[mcp-check {time.strftime('%H:%M:%S')}] {text}", flush=True)


def check(condition, what, detail=""):
    if not condition:
        raise AssertionError(f"{what}" + (f": {detail}" if detail else ""))


def server_args():
    return ["mcp", "--origin", ORIGIN, "--parent", PARENT, "--admission", ADMISSION,
            "--coordinator", COORDINATOR, "--log-level", "info"]


def server_env():
    """stdio: the server's own token is alice's (BRIDGEBACK_TOKEN)."""
    env = dict(os.environ)
    env["BRIDGEBACK_TOKEN"] = ALICE_TOKEN
    return env


class Notes:
    """MCP log messages the server sent (notifications/message)."""

    def __init__(self):
        self.items = []
        self.updated = []  # uris of notifications/resources/updated

    async def __call__(self, params):
        self.items.append(params)

    async def on_message(self, message):
        root = getattr(message, "root", None)
        if getattr(root, "method", "") == "notifications/resources/updated":
            self.updated.append(str(root.params.uri))

    def find(self, event, job_id=None):
        for item in self.items:
            data = item.data if isinstance(item.data, dict) else {}
            if data.get("event") == event and (job_id is None or data.get("job_id") == job_id):
                return data
        return None

    async def wait(self, event, job_id, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(event, job_id)
            if found:
                return found
            await asyncio.sleep(0.2)
        raise AssertionError(f"no '{event}' notification for {job_id} within {timeout}s; got {[i.data for i in self.items]}")


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def call(session, tool, args):
    result = await session.call_tool(tool, args)
    check(not result.isError, f"{tool} succeeded", text_of(result))
    return result


async def expect_invalid(session, tool, args, field):
    try:
        result = await session.call_tool(tool, args)
    except McpError as error:
        message = str(error.error.message)
        check(error.error.code == -32602, f"{tool} {args}: invalid params code", str(error.error.code))
        check(f"'{field}'" in message, f"{tool} {args}: the error names '{field}'", message)
        return message
    raise AssertionError(f"{tool} {args} should be refused naming {field}, got {text_of(result)}")


async def take(session, job_id=None):
    args = {} if job_id is None else {"job_id": job_id}
    result = await call(session, "bridgeback_inbox", args)
    notices = result.structuredContent["notices"]
    for notice in notices:
        if notice["kind"] != "receipt":
            taken[notice["job_id"]] = taken.get(notice["job_id"], 0) + 1
    return notices


async def wait_job(session, job_id, pattern, timeout=40):
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        last = text_of(await call(session, "bridgeback_job", {"job_id": job_id}))
        if re.search(pattern, last):
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"bridgeback_job {job_id} never matched /{pattern}/; last answer:\n{last}")


async def stdio_session(body):
    notes = Notes()
    params = StdioServerParameters(command=BIN, args=server_args(), env=server_env())
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, logging_callback=notes) as session:
            await session.initialize()
            return await body(session, notes)


async def first_session(session, notes):
    step("stdio session 1: list tools")
    tools = (await session.list_tools()).tools
    names = {tool.name for tool in tools}
    check(names == EXPECTED_TOOLS, "the seven tools are listed", str(sorted(names)))
    for tool in tools:
        check(tool.inputSchema.get("type") == "object" and tool.description, f"{tool.name} has a schema and a description")

    step("decide: a small question stays inline, verification work detaches; nothing is written")
    inline = await call(session, "bridgeback_decide", {"text": INLINE_TEXT})
    check(inline.structuredContent["decision"] == "inline", "inline decision", text_of(inline))
    check(inline.structuredContent.get("dry_run") is True, "decide is a dry run")
    detach = await call(session, "bridgeback_decide", {"text": DETACH_TEXT, "recipe": {"name": "sleep", "params": {"seconds": 3}}})
    check(detach.structuredContent["decision"] == "detach", "detach decision", text_of(detach))

    step("bad arguments are MCP errors that name the field")
    await expect_invalid(session, "bridgeback_detach", {}, "text")
    await expect_invalid(session, "bridgeback_detach", {"text": 5}, "text")
    await expect_invalid(session, "bridgeback_detach", {"text": "x", "delivery_mode": "email"}, "delivery_mode")
    await expect_invalid(session, "bridgeback_inbox", {"max": 0}, "max")
    await expect_invalid(session, "bridgeback_outcome", {"request_id": "req_x", "duration_s": 3}, "succeeded")
    await expect_invalid(session, "bridgeback_job", {"job_id": "j", "colour": "red"}, "colour")
    refused = await session.call_tool("bridgeback_detach", {"text": DETACH_TEXT, "final_surface": "nowhere:at-all"})
    check(refused.isError and "final_surface" in text_of(refused), "admission's refusal comes back as a tool error naming the field", text_of(refused))

    step("detach a 3-second job; the defaults are stated back")
    result = await call(session, "bridgeback_detach", {
        "text": DETACH_TEXT, "recipe": {"name": "sleep", "params": {"seconds": 3}},
        "summary": "login timeout verification", "idempotency_key": f"mcp-check-{os.getpid()}-1"})
    job1 = result.structuredContent["job_id"]
    words = text_of(result)
    check("Defaults used" in words and "Tell the user:" in words, "the answer states defaults and a line for the user", words)
    check(result.structuredContent["contract"]["parent_id"] == PARENT, "the contract returns to this assistant's parent key")

    step(f"see {job1}'s progress (bridgeback_job and progress notifications)")
    progress = await wait_job(session, job1, r"Progress: (?!none)")
    await notes.wait("progress", job1)
    step("the final notice is announced, and left untaken: the client disconnects")
    await notes.wait("notice", job1)
    job_text = await wait_job(session, job1, r"waiting in your inbox")
    check("Delivery:" in job_text, "bridgeback_job says where the answer went", job_text)
    return job1


def start_http_server():
    # No token of its own: each HTTP caller's token is checked against the principals file and forwarded.
    env = dict(os.environ)
    env.pop("BRIDGEBACK_TOKEN", None)
    process = subprocess.Popen([BIN, *server_args(), "--transport", "http", "--port", "0", "--principals", PRINCIPALS], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"http\.port=(\d+)", line)
        if match and "mcp listening" in line:
            return process, int(match.group(1))
    process.kill()
    raise AssertionError("the HTTP MCP server did not say where it listens:\n" + "".join(lines))


async def http_part(job2):
    process, port = start_http_server()
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        step("HTTP transport: without a token, and with a token no principal holds, initialize is refused with 401")
        for token in [None, "bbt_" + "x" * 43]:
            status, _ = raw_post(url, token, INITIALIZE)
            check(status == 401, f"401 {'without a token' if token is None else 'with an unknown token'}", str(status))

        notes = Notes()
        async with streamablehttp_client(url, headers={"Authorization": f"Bearer {ALICE_TOKEN}"}) as (read, write, alice_session_id):
            async with ClientSession(read, write, logging_callback=notes, message_handler=notes.on_message) as session:
                await session.initialize()
                step("HTTP session: tools listed; the second job's notice (untaken when its server died) is here")
                names = {tool.name for tool in (await session.list_tools()).tools}
                check(names == EXPECTED_TOOLS, "the seven tools over HTTP", str(sorted(names)))
                notices = await take(session)
                check([n["job_id"] for n in notices] == [job2], "the notice survived the kill and is taken once", str(notices))

                step("HTTP session: a new notice is announced over the SSE stream and taken")
                result = await call(session, "bridgeback_detach", {"text": DETACH_TEXT, "recipe": {"name": "echo", "params": {"text": "third"}}})
                job3 = result.structuredContent["job_id"]
                await notes.wait("notice", job3)
                notices = await take(session, job3)
                check([n["job_id"] for n in notices] == [job3], "the third notice is taken over HTTP", str(notices))

                step("cancel a long job")
                result = await call(session, "bridgeback_detach", {
                    "text": DETACH_TEXT, "recipe": {"name": "sleep", "params": {"seconds": 60}}, "summary": "to be cancelled"})
                job4 = result.structuredContent["job_id"]
                cancelled = await call(session, "bridgeback_cancel", {"job_id": job4, "reason": "no longer needed"})
                check(cancelled.structuredContent["state"] == "cancel_requested", "the cancel is recorded", text_of(cancelled))
                # The coordinator decides the job's one notice at once: cancelled, saying who and when.
                await notes.wait("notice", job4)
                notices = await take(session, job4)
                check([n["job_id"] for n in notices] == [job4] and notices[0]["kind"] == "cancelled",
                      "the cancelled job's one notice says cancelled", str(notices))
                listed = await call(session, "bridgeback_jobs", {"limit": 10})
                check(job4 in text_of(listed) and job1_id in text_of(listed), "bridgeback_jobs lists the jobs", text_of(listed))

                step("report an inline turn's outcome")
                inline = await call(session, "bridgeback_detach", {"text": INLINE_TEXT})
                check("Not detached" in text_of(inline), "an inline request is not detached", text_of(inline))
                request_id = inline.structuredContent["request_id"]
                outcome = await call(session, "bridgeback_outcome", {
                    "request_id": request_id, "duration_s": 4.5, "succeeded": True, "tool_calls": 2, "sources": ["wikipedia"]})
                check(outcome.structuredContent["recorded"] == "created", "the outcome is recorded", text_of(outcome))
                bad = await session.call_tool("bridgeback_outcome", {"request_id": "req_nonexistent", "duration_s": 1, "succeeded": True})
                check(bad.isError and "no request" in text_of(bad), "an unknown request id is a tool error", text_of(bad))

                await bob_part(url, alice_session_id(), session, job3, notes)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


job1_id = ""

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


def raw_post(url, token, message, session_id=None):
    """One JSON-RPC POST to /mcp; (status, body) without reading a stream past its headers."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-03-26"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if session_id is not None:
        headers["Mcp-Session-Id"] = session_id
    request = urllib.request.Request(url, data=json.dumps(message).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


async def bob_part(url, alice_session, alice, job3, alice_notes):
    """Bob holds a valid token of another principal: he may use the server, never alice's session or inbox."""
    step("bob's token cannot use alice's session id (404, as an unknown session); alice's token can")
    tools_list = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}
    status, body = raw_post(url, BOB_TOKEN, tools_list, session_id=alice_session)
    check(status == 404, "bob's token on alice's session is refused with 404", f"{status} {body}")
    status, body = raw_post(url, ALICE_TOKEN, {"jsonrpc": "2.0", "id": 8, "method": "ping"}, session_id=alice_session)
    check(status == 200, "alice's own token on her session is served", f"{status} {body}")

    bob_notes = Notes()
    async with streamablehttp_client(url, headers={"Authorization": f"Bearer {BOB_TOKEN}"}) as (read, write, bob_session_id):
        async with ClientSession(read, write, logging_callback=bob_notes) as bob:
            await bob.initialize()
            check(bob_session_id() != alice_session, "bob gets a session of his own")
            step("bob cannot see alice's job through bridgeback_job (admission answers his token 404)")
            seen = await bob.call_tool("bridgeback_job", {"job_id": job3})
            check(seen.isError and "echo" not in text_of(seen) and "third" not in text_of(seen),
                  "alice's job is not shown to bob", text_of(seen))
            step("bob cannot open alice's inbox: an MCP error naming the scope; nothing is taken")
            for args in [{}, {"peek": True}]:
                try:
                    result = await bob.call_tool("bridgeback_inbox", args)
                    raise AssertionError(f"bob opened alice's inbox: {text_of(result)}")
                except McpError as error:
                    check("may not open the inbox of parent" in error.error.message and "principal 'other" in error.error.message,
                          "the error says which principal and which parent", error.error.message)
            inbox_uri = f"bridgeback://inbox/{PARENT}"
            for action in [bob.read_resource, bob.subscribe_resource]:
                try:
                    await action(inbox_uri)
                    raise AssertionError(f"bob could {action.__name__} alice's inbox resource")
                except McpError as error:
                    check("may not open the inbox" in error.error.message, f"{action.__name__} of the inbox is refused too",
                          error.error.message)
            step("a notice for alice arrives while both are connected: announced to alice only (log message and "
                 "resources/updated, she subscribed), taken by alice once")
            await alice.subscribe_resource(inbox_uri)
            result = await call(alice, "bridgeback_detach", {"text": DETACH_TEXT, "recipe": {"name": "echo", "params": {"text": "fifth"}}})
            job5 = result.structuredContent["job_id"]
            await alice_notes.wait("notice", job5)
            deadline = time.monotonic() + 10
            while inbox_uri not in alice_notes.updated and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            check(inbox_uri in alice_notes.updated, "alice is sent notifications/resources/updated for her inbox", str(alice_notes.updated))
            notices = await take(alice, job5)
            check([n["job_id"] for n in notices] == [job5], "alice takes her fifth notice", str(notices))
            check(bob_notes.find("notice") is None and bob_notes.find("waiting") is None,
                  "bob was told of none of alice's notices", str([i.data for i in bob_notes.items]))
            detached = await bob.call_tool("bridgeback_detach", {"text": DETACH_TEXT, "recipe": {"name": "echo", "params": {"text": "x"}}})
            check(detached.isError and "principal 'other" in text_of(detached),
                  "admission refuses bob's detach as origin " + ORIGIN + " with his own scope", text_of(detached))


async def main():
    global job1_id
    started = time.monotonic()
    job1_id = await stdio_session(first_session)
    job2 = await second_session_killed(job1_id)
    await http_part(job2)
    step("a last stdio session finds the inbox empty: nothing repeated")
    async def final(session, notes):
        return await take(session)
    left = await stdio_session(final)
    check(left == [], "nothing left in the inbox", str(left))
    repeated = {job: count for job, count in taken.items() if count != 1}
    check(not repeated, "every notice was taken exactly once", str(taken))
    check(len(taken) == 5, "five notices taken (the cancelled job's among them)", str(taken))
    doc_client()
    step(f"all checks passed in {time.monotonic() - started:.1f}s; taken: {taken}")


async def second_session_killed(job1):
    """Session 2 over stdio; its server is killed (SIGKILL) while the second notice is untaken."""
    notes = Notes()
    # Run the server under a small wrapper that lets us SIGKILL it: the stdio client owns the process,
    # so we find it by its unique command line in /proc after the notice has arrived.
    marker = f"--idle-timeout={3600 + os.getpid() % 1000}"
    params = StdioServerParameters(command=BIN, args=[*server_args(), marker], env=server_env())
    job2 = None
    try:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, logging_callback=notes) as session:
                await session.initialize()
                job2 = await second_body(session, notes, job1)
                pid = find_pid(marker)
                check(pid is not None, "found the stdio server's process")
                step(f"SIGKILL the stdio MCP server (pid {pid}) with job {job2}'s notice untaken")
                os.kill(pid, signal.SIGKILL)
                await asyncio.sleep(0.5)
    except Exception as error:  # the client sees its server die; that is the point
        if job2 is None:
            raise
        step(f"the client saw its server die ({type(error).__name__})")
    return job2


async def second_body(session, notes, job1):
    step("stdio session 2 (a reconnect): the notice that waited is announced and taken exactly once")
    deadline = time.monotonic() + 20
    while not (notes.find("waiting") or notes.find("notice", job1)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    check(notes.find("waiting") or notes.find("notice", job1), "the waiting notice is announced on connect", str([i.data for i in notes.items]))
    peeked = await call(session, "bridgeback_inbox", {"peek": True})
    check([n["job_id"] for n in peeked.structuredContent["notices"]] == [job1], "peek shows the waiting notice", text_of(peeked))
    notices = await take(session)
    check([n["job_id"] for n in notices] == [job1], "take returns it", str(notices))
    check(notices[0]["kind"] == "result" and "Result of job" in notices[0]["human"], "it is the result, in words", str(notices[0]))
    again = await take(session)
    check(again == [], "taking again returns nothing", str(again))
    step("a second job's notice arrives while connected")
    result = await call(session, "bridgeback_detach", {"text": DETACH_TEXT, "recipe": {"name": "echo", "params": {"text": "second answer"}}})
    job2 = result.structuredContent["job_id"]
    await notes.wait("notice", job2)
    return job2


def doc_client():
    """Runs the plain-HTTP client of docs/assistants.md as printed, with this fleet's address and origin.

    Last, because its job's notice lands in the inbox the checks above counted.
    """
    step("the dozen-line plain-HTTP client in docs/assistants.md detaches a job and sees it published")
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "docs", "assistants.md"), encoding="utf-8") as handle:
        doc = handle.read()
    section = doc.split("## A plain-HTTP client in a dozen lines", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    check(code.count("\n") <= 12, "the client is a dozen lines", str(code.count("\n")))
    check('"http://127.0.0.1:8080"' in code and '"cli:alice"' in code, "the snippet names the default address and origin")
    code = code.replace('"http://127.0.0.1:8080"', json.dumps(ADMISSION)).replace('"cli:alice"', json.dumps(ORIGIN))
    code = code.replace('"verify-1"', json.dumps(f"doc-client-{os.getpid()}"))
    env = dict(os.environ, BRIDGEBACK_TOKEN=ALICE_TOKEN)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    check(run.returncode == 0 and run.stdout.startswith("Detached"), "the doc's client runs and prints the detach line",
          run.stdout + run.stderr)


def find_pid(marker):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in args:
            return int(entry)
    return None


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as failure:
        print(f"[mcp-check] FAILED: {failure}", flush=True)
        sys.exit(1)
