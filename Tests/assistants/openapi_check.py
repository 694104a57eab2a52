"""Checks admission and the coordinator status API against their OpenAPI documents with schemathesis.

Run by AssistantIntegrationTests against a real fleet (broker, principals file, token). It seeds a
few real jobs (a delivered one, a cancelled one, an inline request with its outcome) so that the
routes taking an id are exercised with ids that exist as well as with generated ones, fetches each
server's document from GET /openapi.json with the token, and runs `st run` on it for a bounded
number of examples. Fails (exit 1) on a 5xx, a status, content type, header or body the document
does not declare, a request the document calls invalid that the server accepts, or a route that
answers without a token.

Environment: BB_ADMISSION_URL, BB_COORDINATOR_URL, BB_TOKEN, BB_ORIGIN (an inbox origin cli:NAME the
token may use, with work surface work:NAME and parent NAME), BB_FINAL (a file surface it may deliver
to), BB_WORK_DIR (for the fetched documents, the configuration and schemathesis' cache),
BB_MAX_EXAMPLES (per operation, default 50), BB_SEED (default 17).
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

ADMISSION = os.environ["BB_ADMISSION_URL"].rstrip("/")
COORDINATOR = os.environ["BB_COORDINATOR_URL"].rstrip("/")
TOKEN = os.environ["BB_TOKEN"]
ORIGIN = os.environ["BB_ORIGIN"]
FINAL = os.environ["BB_FINAL"]
WORK = os.environ.get("BB_WORK_DIR", ".")
MAX_EXAMPLES = os.environ.get("BB_MAX_EXAMPLES", "50")
CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection", "ignored_auth",
])


def call(base, method, path, body=None, token=TOKEN):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def expect(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


def seed():
    """A delivered job, a cancelled one and an inline request with an outcome; returns their ids."""
    status, body = call(ADMISSION, "POST", "/v1/requests", {
        "origin": ORIGIN, "text": "openapi check: echo", "force": "detach", "summary": "openapi check",
        "recipe": {"name": "echo", "params": {"text": "checked"}},
        "contract": {"final_surface": FINAL, "delivery_mode": "direct"}})
    expect(status == 202, f"detach → {status}: {body[:300]}")
    delivered = json.loads(body)["job_id"]
    status, body = call(ADMISSION, "POST", "/v1/requests", {
        "origin": ORIGIN, "text": "openapi check: to cancel", "force": "detach", "recipe": {"name": "sleep", "params": {"seconds": 60}}})
    expect(status == 202, f"detach → {status}: {body[:300]}")
    cancelled = json.loads(body)["job_id"]
    status, body = call(ADMISSION, "POST", f"/v1/jobs/{cancelled}/cancel", {"reason": "openapi check"})
    expect(status == 202, f"cancel → {status}: {body[:300]}")
    status, body = call(ADMISSION, "POST", "/v1/requests", {"origin": ORIGIN, "text": "what is a canary?", "force": "inline"})
    expect(status == 200, f"inline → {status}: {body[:300]}")
    request = json.loads(body)["request_id"]
    status, body = call(ADMISSION, "POST", f"/v1/requests/{request}/outcome", {"duration_s": 3, "succeeded": True, "sources": ["a"]})
    expect(status == 200, f"outcome → {status}: {body[:300]}")
    deadline = time.time() + 60
    while time.time() < deadline:
        status, body = call(COORDINATOR, "GET", f"/v1/jobs/{delivered}/delivery")
        if status == 200 and json.loads(body).get("final_outcome") == "delivered":
            break
        time.sleep(0.3)
    else:
        expect(False, f"job {delivered} was not delivered within 60 s: {status} {body[:300]}")
    print(f"seeded: delivered {delivered}, cancelled {cancelled}, inline request {request}", flush=True)
    return [delivered, cancelled, request]


def schemathesis(name, base, ids, bodies=None):
    status, body = call(base, "GET", "/openapi.json")
    expect(status == 200, f"{name}: GET /openapi.json → {status}")
    status_anonymous, _ = call(base, "GET", "/openapi.json", token=None)
    expect(status_anonymous == 401, f"{name}: GET /openapi.json without a token → {status_anonymous}, expected 401")
    document = json.loads(body)
    expect(document.get("openapi", "").startswith("3.1."), f"{name}: not an OpenAPI 3.1 document")
    path = os.path.join(WORK, f"openapi-{name}.json")
    with open(path, "wb") as file:
        file.write(body)
    # Most generated ids are real ones, so the 200 answers of the id routes are checked too.
    config = os.path.join(WORK, f"schemathesis-{name}.toml")
    # Likewise for body fields that must name something that exists (bodies: field → values).
    with open(config, "w") as file:
        bindings = {"path.id": ("ids", ids)}
        for field, values in (bodies or {}).items():
            bindings[f"body.{field}"] = (field.replace(".", "_"), values)
        for dictionary, values in bindings.values():
            file.write(f"[dictionaries.{dictionary}]\nvalues = [" + ", ".join(json.dumps(v) for v in values) + "]\n\n")
        # A body over the size limit is refused too (413); schemathesis does not count 413 as a refusal by default.
        file.write('[checks.negative_data_rejection]\nexpected-statuses = ["400", "401", "403", "404", "409", "413", "422"]\n\n')
        file.write("[parameters]\n")
        for key, (dictionary, _) in bindings.items():
            file.write(f'"{key}" = {{ dictionary = "{dictionary}", probability = 0.8 }}\n')
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", config, "--no-color", "run", path, "--url", base,
        "-H", f"Authorization: Bearer {TOKEN}", "--checks", CHECKS, "--max-examples", MAX_EXAMPLES,
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", os.environ.get("BB_SEED", "17"),
        "--request-timeout", "10", "--output-truncate", "true", "--suppress-health-check", "all",
    ]
    print(f"== schemathesis: {name} ({base}), {MAX_EXAMPLES} examples per operation", flush=True)
    started = time.time()
    result = subprocess.run(command, env={**os.environ, "SCHEMATHESIS_HOOKS": ""}, cwd=WORK, timeout=240)  # its cache goes there
    print(f"== {name}: exit {result.returncode} after {time.time() - started:.0f} s", flush=True)
    return result.returncode == 0


def main():
    ids = seed()
    parent = ORIGIN.split(":", 1)[1]
    known = {
        "origin": [ORIGIN], "recipe.name": ["noop", "echo"], "contract.final_surface": [ORIGIN, FINAL],
        "contract.work_surface": [f"work:{parent}"], "contract.parent_id": [parent],
    }
    results = [schemathesis("admission", ADMISSION, ids, known), schemathesis("status", COORDINATOR, ids)]
    expect(all(results), "schemathesis found a difference between a server and its document (see above)")
    print("all checks passed", flush=True)


if __name__ == "__main__":
    main()
