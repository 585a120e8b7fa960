"""The report's scenarios for locust, for those who prefer it to wrk (``pip install locust``).

Start a server yourself (drum-bridge or ``drum server``) on a model that fits the scenario,
then point locust at it; the class picks the scenario. With no ``--host`` it uses
http://127.0.0.1:8080.

    # regression model: /ping/ and /predict/ (5 rows and 10,000 rows)
    locust -f benchmarks/locustfile.py --headless -u 32 -r 32 -t 30s \\
        --host http://127.0.0.1:8080 PredictUser
    # unstructured echo model (benchmarks/models/echo):
    locust -f benchmarks/locustfile.py --headless -u 32 -r 32 -t 30s EchoUser
    # chat model (benchmarks/models/llm, --target-type textgeneration): time to first chunk
    locust -f benchmarks/locustfile.py --headless -u 64 -r 64 -t 30s ChatUser

Every request carries ``X-Auth-Token: secret``, so the migration guide's auth examples
(``benchmarks/models/extensions``) let it through. Locust users wait for each answer, like
wrk (closed loop); for latency at a fixed arrival rate use ``benchmarks/openloop.py``, and
for the whole side-by-side report ``benchmarks/run.py``. Locust spends far more CPU per
request than wrk: on a machine with few cores its own limit shows long before the server's.
"""

from __future__ import annotations

import json
import random
import time

from locust import FastHttpUser, HttpUser, between, events, task

AUTH = {"X-Auth-Token": "secret"}


def _csv(rows: int) -> str:
    rng = random.Random(0)
    lines = ["a,b", *(f"{rng.uniform(-10, 10):.6f},{rng.uniform(-10, 10):.6f}" for _ in range(rows))]
    return "\n".join(lines) + "\n"


CSV_5 = _csv(5)
CSV_10K = _csv(10_000)
ECHO = ("drum-bridge echo " * 64)[:1024]
CHAT = json.dumps({"model": "bench", "stream": True, "messages": [{"role": "user", "content": "go"}]})


class PredictUser(FastHttpUser):
    """/ping/ and /predict/ with 5 and 10,000 CSV rows (a regression model on columns a,b)."""

    host = "http://127.0.0.1:8080"
    wait_time = between(0, 0)

    @task(1)
    def ping(self) -> None:
        self.client.get("/ping/", headers=AUTH)

    @task(4)
    def predict_5_rows(self) -> None:
        self.client.post("/predict/", data=CSV_5, headers={**AUTH, "Content-Type": "text/csv"},
                         name="/predict/ 5 rows")

    @task(1)
    def predict_10k_rows(self) -> None:
        self.client.post("/predict/", data=CSV_10K, headers={**AUTH, "Content-Type": "text/csv"},
                         name="/predict/ 10k rows")


class EchoUser(FastHttpUser):
    """/predictUnstructured/ with 1 KiB of text, answered as it came (benchmarks/models/echo)."""

    host = "http://127.0.0.1:8080"
    wait_time = between(0, 0)

    @task
    def echo(self) -> None:
        with self.client.post("/predictUnstructured/", data=ECHO, catch_response=True,
                              headers={**AUTH, "Content-Type": "text/plain"}) as response:
            if response.text != ECHO:
                response.failure("the answer is not the body sent")


class ChatUser(HttpUser):
    """One streamed chat completion per task; reports the time to first chunk as its own entry.

    The requests-based client (``HttpUser``), because it hands the body over as it arrives.
    """

    host = "http://127.0.0.1:8080"
    wait_time = between(0, 0)

    @task
    def chat(self) -> None:
        started = time.perf_counter()
        first = None
        with self.client.post("/v1/chat/completions", data=CHAT, stream=True, catch_response=True,
                              headers={**AUTH, "Content-Type": "application/json"}) as response:
            seen = b""
            for chunk in response.iter_content(chunk_size=None):
                seen += chunk
                if first is None and b"data: {" in seen:
                    first = time.perf_counter()
                    events.request.fire(request_type="TTFC", name="chat first chunk",
                                        response_time=(first - started) * 1000,
                                        response_length=0, exception=None, context={})
            if b"data: [DONE]" not in seen:
                response.failure("the stream did not end with [DONE]")
