"""Issue 9's "Must hold" checks against the real server: memory under repeated load,
a bounded queue under saturation, and hostile request spellings against an auth hook.

Each test starts ``drum server`` on a free loopback port and drives it from here with raw
HTTP/1.1 over asyncio sockets (``Connection: close``, one request per connection), so that no
client library tidies a method, path or header up first.  Every loop is bounded in count and
in time.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.model_dirs import SLEEPY_MODEL, fitted_regressor, write_custom_py, write_pickle
from support.raw_http import Answer, exchange, port_of, request_bytes
from support.server import rss_kib, run_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

REGRESSION = ("--target-type", "regression")


# --- 1. memory over 10 rounds of 500 concurrent /predict/ --------------------------------------

ROUNDS = 10
CONCURRENT = 500
PREDICT = request_bytes(
    "POST", "/predict/", [("Content-Type", "text/csv")], b"a,b\n1,2\n3,4\n"
)


@pytest.mark.timeout(150)
def test_rounds_of_concurrent_predictions_leave_memory_flat(tmp_path: Path) -> None:
    code_dir = write_pickle(tmp_path / "model", fitted_regressor())
    # 500 requests at once must all wait for one of 4 model threads: room for all of them.
    args = ("--code-dir", str(code_dir), *REGRESSION, "--max-waiting-requests", str(CONCURRENT))
    with run_server(tmp_path, *args) as server:
        assert server.first_answer().status_code == 200
        port = port_of(server)

        async def one_round() -> list[Answer]:
            return await asyncio.gather(*(exchange(port, PREDICT) for _ in range(CONCURRENT)))

        rss_after: list[int] = []
        for round_number in range(ROUNDS):
            answers = asyncio.run(one_round())
            failed = [a for a in answers if a.status != 200][:5]
            assert not failed, f"round {round_number + 1}: {failed}"
            assert {tuple(a.json()["predictions"]) for a in answers} == {(5.0, 11.0)}
            rss_after.append(rss_kib(server.process.pid))

        first, last = rss_after[0], rss_after[-1]
        print(f"RSS (KiB) after each round of {CONCURRENT}: {rss_after}")
        assert abs(last - first) <= first * 0.10, rss_after


# --- 2. saturation: a bounded queue, 503 with Retry-After past it ------------------------------

SLEEP_S = 0.4
MODEL_THREADS = 2
MAX_WAITING = 4
CLIENTS = 30
SATURATION_S = 8.0
#: Past its bound nothing waits: an accepted request waits at most for the queue ahead of it
#: (MAX_WAITING / MODEL_THREADS sleeps) and then runs one; the slack is for a loaded machine.
#: An unbounded queue would make CLIENTS / MODEL_THREADS * SLEEP_S = 6 s.
LATENCY_BOUND_S = (MAX_WAITING / MODEL_THREADS + 1) * SLEEP_S + 1.0


@pytest.mark.timeout(90)
def test_saturation_refuses_past_the_queue_and_keeps_latency_bounded(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", SLEEPY_MODEL)
    args = ("--code-dir", str(code_dir), *REGRESSION, "--model-threads", str(MODEL_THREADS),
            "--max-waiting-requests", str(MAX_WAITING))
    request = request_bytes(
        "POST", "/predict/", [("Content-Type", "text/csv")], f"sleep\n{SLEEP_S}\n".encode()
    )
    with run_server(tmp_path, *args) as server:
        assert server.first_answer().status_code == 200
        port = port_of(server)

        async def client(deadline: float) -> list[Answer]:
            answers = []
            while time.monotonic() < deadline:
                answer = await exchange(port, request)
                answers.append(answer)
                if answer.status == 503:
                    await asyncio.sleep(0.05)  # as a client honouring a short Retry-After would
            return answers

        async def saturate() -> list[Answer]:
            deadline = time.monotonic() + SATURATION_S
            per_client = await asyncio.gather(*(client(deadline) for _ in range(CLIENTS)))
            return [answer for answers in per_client for answer in answers]

        answers = asyncio.run(saturate())
        accepted = [a for a in answers if a.status == 200]
        refused = [a for a in answers if a.status == 503]
        others = [a for a in answers if a.status not in (200, 503)]
        assert not others, others[:5]
        for answer in accepted:
            assert answer.json() == {"predictions": [pytest.approx(SLEEP_S)]}
        for answer in refused:
            assert int(answer.headers["retry-after"]) >= 1, answer
            assert answer.headers["content-type"].startswith("application/json"), answer
            message = answer.json()["message"]
            assert message.startswith("ERROR: ") and "--max-waiting-requests" in message, answer
        # The server was saturated: far more asked than 2 threads can serve.
        assert len(refused) > len(accepted) > 0

        latencies = sorted(a.seconds for a in accepted)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        refused_max = max(a.seconds for a in refused)
        print(f"saturation: {len(accepted)} accepted, {len(refused)} refused;"
              f" accepted p50 {latencies[len(latencies) // 2]:.3f}s p99 {p99:.3f}s"
              f" max {latencies[-1]:.3f}s; refused max {refused_max:.3f}s")
        # Served at the pool's pace, not more: 2 threads, SLEEP_S each.
        assert len(accepted) <= MODEL_THREADS * SATURATION_S / SLEEP_S + MAX_WAITING + 2
        assert p99 < LATENCY_BOUND_S, latencies[-10:]
        assert refused_max < 1.0  # refused at once, not after waiting


# --- 3. randomized hostile spellings against a custom_flask.py auth hook -----------------------

TOKEN = "t0k3n"
AUTH_HOOK = f"""
import os
from pathlib import Path

from flask import jsonify, request

SEEN = Path(__file__).with_name("hook_seen.log")


def init_app(app):
    @app.before_request
    def check_token():
        with SEEN.open("a") as seen:
            seen.write(f"{{request.headers.get('X-Request-ID')}} {{request.endpoint}}\\n")
        if request.endpoint == "model_api.ping":
            return None
        if request.headers.get("X-Auth") != "{TOKEN}":
            return jsonify({{"message": "ERROR: unauthorized"}}), 401
        return None
"""
#: Every call the model gets is recorded with the request's ``rid`` column.
RECORDING_MODEL = """
from pathlib import Path

import pandas as pd

CALLS = Path(__file__).with_name("model_calls.log")


def load_model(code_dir):
    return "model"


def _record(what):
    with CALLS.open("a") as calls:
        calls.write(what + "\\n")


def score(data, model, **kwargs):
    _record(" ".join(str(rid) for rid in data.get("rid", ["?"])))
    return pd.DataFrame({"Predictions": [1.0] * len(data)})


def transform(data, model):
    _record("transform " + " ".join(str(rid) for rid in data.get("rid", ["?"])))
    return data


def score_unstructured(model, data, **kwargs):
    _record("unstructured " + repr(data)[:200])
    return "ok"
"""

FUZZ_REQUESTS = 2000
FUZZ_CONCURRENCY = 16
FUZZ_BUDGET_S = 100.0
MAX_HEADER_SIZE = 64 * 1024  # the server's default --max-header-size
BIG = 100 * 1024

#: (method, weight): the tokens llhttp knows, and some it refuses (case, unknown tokens).
METHODS = [("GET", 15), ("POST", 30), ("HEAD", 5), ("PUT", 5), ("DELETE", 5), ("PATCH", 5),
           ("OPTIONS", 5), ("PURGE", 3), ("get", 3), ("post", 3), ("Post", 3), ("head", 3),
           ("BREW", 3), ("FOO", 3), ("X-POST", 3)]
PARSED_METHODS = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"}
ROUTES = ["", "ping", "health", "info", "capabilities", "stats", "predict", "predict", "predict",
          "predictions", "invocations", "invocations", "transform", "predictUnstructured", "predictionsUnstructured",
          "chat/completions", "v1/chat/completions", "models", "v1/models", "directAccess/x",
          "nim/x", "custom_route", "nowhere"]
WRONG_TOKENS = [  # the token under other names, or another value under its name
    ("X_Auth", TOKEN), ("x_auth", TOKEN), ("X-Auth_", TOKEN), ("X-Auth-", TOKEN),
    ("XAuth", TOKEN), ("X-Auth", "wrong"), ("X-Auth", TOKEN.upper()), ("X-Auth", ""),
]


def spell(route: str, rng: random.Random) -> str:
    """One spelling of ``route``: escaped slashes and dots, case, doubled slashes, dot segments."""
    path = "/" + route + rng.choice(["/", "", "//", "/%2F", "%2f", "/.", "/%2e", "/./"])
    if rng.random() < 0.3:  # escape letters, slashes and dots at random (rarely the first /)
        first = 0 if rng.random() < 0.05 else 1
        path = path[:first] + "".join(
            f"%{ord(c):02{rng.choice('xX')}}" if c != "%" and rng.random() < 0.3 else c
            for c in path[first:]
        )
    if rng.random() < 0.2:
        path = rng.choice(["/x/..", "/%2e%2e", "/ping/..", "/./", "//", "/%2E/..%2F"]) + path
    if rng.random() < 0.1:
        path = path.upper()
    if rng.random() < 0.15:
        path += "?" + rng.choice(["a=1", "x=%2F..%2F", "/predict/"])
    return path


@dataclass(frozen=True)
class Probe:
    rid: str
    method: str
    path: str
    tokened: bool
    header_bytes: int  # name + value bytes of all headers, as the server counts them
    request: bytes


def probe(n: int, rng: random.Random) -> Probe:
    rid = f"fuzz-{n}"
    method = rng.choices([m for m, _ in METHODS], [w for _, w in METHODS])[0]
    path = spell(rng.choice(ROUTES), rng)
    if rng.random() < 0.06:  # long paths: past the parser's URL limit, and under it
        length = rng.choice([BIG, BIG // 2])
        path = rng.choice(["/predict/" + "a" * length, "/" + "%2F" * (length // 3),
                           "/ping/" + "%2e%2e/" * (length // 7)])
    headers = [("X-Request-ID", rid)]
    tokened = rng.random() < 0.4
    if tokened:
        headers.append((rng.choice(["X-Auth", "x-auth", "X-AUTH"]), TOKEN))
    elif rng.random() < 0.6:
        headers.append(rng.choice(WRONG_TOKENS))
    if rng.random() < 0.05:
        headers += [(f"X-Filler-{i}", f"v{i}") for i in range(500)]
    if rng.random() < 0.05:
        headers.append(("X-Big", "b" * BIG))
    body = b""
    if rng.random() < 0.7:
        headers.append(("Content-Type", rng.choice(["text/csv", "text/plain", "text/csv; charset=utf-8"])))
        body = f"a,b,rid\n1,2,{rid}\n".encode()
    rng.shuffle(headers)
    request = request_bytes(method, path, headers, body)
    header_lines = request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    header_bytes = sum(
        len(name) + len(value.strip())
        for name, _, value in (line.partition(b":") for line in header_lines)
    )
    return Probe(rid, method, path, tokened, header_bytes, request)


#: uvicorn's answer when its HTTP parser (httptools / llhttp) refuses a request line.
PARSER_REFUSAL = b"Invalid HTTP request received."
#: httptools' ``parse_url`` refuses longer request targets.
PARSER_URL_LIMIT = 65535


def parser_refuses(p: Probe) -> bool:
    """The request line is malformed for llhttp: a method token it does not know (any case
    but upper), a target that is not origin-form (no leading ``/``), or a target too long."""
    return (
        p.method not in PARSED_METHODS
        or not p.path.startswith("/")
        or len(p.path) > PARSER_URL_LIMIT
    )


def is_drum_error(answer: Answer, method: str) -> bool:
    """``{"message": "ERROR: ..."}`` (a HEAD answer has its headers only)."""
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return False
    if method.upper() == "HEAD":
        return not answer.body
    try:
        message = answer.json()["message"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(message, str) and message.startswith("ERROR: ")


def is_ping_answer(answer: Answer, method: str) -> bool:
    """Ping's ``{"message": "OK"}``; HEAD and (Flask's automatic) OPTIONS answer no body."""
    if method in ("HEAD", "OPTIONS"):
        return not answer.body
    try:
        return answer.json() == {"message": "OK"}
    except ValueError:
        return False


@pytest.mark.timeout(150)
def test_randomized_requests_never_pass_the_auth_hook_without_the_token(tmp_path: Path) -> None:
    code_dir = write_custom_py(tmp_path / "model", RECORDING_MODEL)
    (code_dir / "custom_flask.py").write_text(AUTH_HOOK)
    rng = random.Random(9)
    probes = [probe(n, rng) for n in range(FUZZ_REQUESTS)]
    with run_server(tmp_path, "--code-dir", str(code_dir), *REGRESSION) as server:
        assert server.first_answer().status_code == 200
        port = port_of(server)

        async def fuzz() -> list[Answer | None]:
            deadline = time.monotonic() + FUZZ_BUDGET_S
            answers: list[Answer | None] = [None] * len(probes)
            next_index = iter(range(len(probes)))

            async def worker() -> None:
                for i in next_index:
                    if time.monotonic() > deadline:
                        return
                    answers[i] = await exchange(port, probes[i].request)

            await asyncio.gather(*(worker() for _ in range(FUZZ_CONCURRENCY)))
            return answers

        started = time.monotonic()
        answers = asyncio.run(fuzz())
        elapsed = time.monotonic() - started
        hook_seen = dict(
            line.split(" ", 1) for line in (code_dir / "hook_seen.log").read_text().splitlines()
        )
        model_calls = (code_dir / "model_calls.log").read_text().splitlines() if (
            code_dir / "model_calls.log"
        ).exists() else []
        stderr = server.stderr

    assert all(a is not None for a in answers), "the fuzz ran out of its time budget"
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    for p, a in zip(probes, answers, strict=True):
        assert a is not None
        refused = parser_refuses(p)
        outcomes[f"{a.status or a.failure}{' (parser)' if refused else ''}"] += 1
        where = f"{p.method} {p.path[:80]} tokened={p.tokened} -> {a.status or a.failure}"
        if refused:
            # uvicorn answers 400 in plain text and closes; a closed connection would be fine.
            if a.status is not None and (a.status, a.body) != (400, PARSER_REFUSAL):
                problems.append(f"parser should refuse: {where} {a.body[:100]!r}")
            continue
        if a.status is None:
            problems.append(f"dropped: {where}")
            continue
        if a.body == PARSER_REFUSAL:
            problems.append(f"refused by the parser, unexpectedly: {where}")
        if a.status >= 500:
            problems.append(f"5xx: {where} {a.body[:200]!r}")
        if (p.header_bytes > MAX_HEADER_SIZE) != (a.status == 431):
            problems.append(f"431 iff headers > {MAX_HEADER_SIZE}: {p.header_bytes}: {where}")
        if a.status == 431 and not is_drum_error(a, p.method):
            problems.append(f"431 not in DRUM's shape: {where} {a.headers} {a.body[:200]!r}")
        if not p.tokened and 200 <= a.status < 300:
            # Only ping answers without the token, and its hook saw it as ping.
            if hook_seen.get(p.rid) != "model_api.ping" or not is_ping_answer(a, p.method):
                problems.append(f"reached without the token: {where} hook saw"
                                f" {hook_seen.get(p.rid)!r} body {a.body[:100]!r}")
    tokened_rids = {p.rid for p in probes if p.tokened}
    for call in model_calls:
        rids = set(re.findall(r"fuzz-\d+", call))
        if not rids or not rids <= tokened_rids:
            problems.append(f"model called without the token: {call!r}")
    print(f"fuzz: {FUZZ_REQUESTS} requests in {elapsed:.1f}s; outcomes {dict(outcomes)};"
          f" model calls {len(model_calls)} (transform + score per scored request)")
    assert not problems, "\n".join(problems[:20])
    assert "Traceback" not in stderr, stderr[-3000:]
    # The run exercised what it claims to.
    assert outcomes["431"] > 0 and outcomes["401"] > 0 and outcomes["400 (parser)"] > 0
    assert sum(not call.startswith("transform") for call in model_calls) >= 5, model_calls
