"""``chil serve``: the real Starlette app on a real uvicorn server (loopback), scored by the real
``empirical`` framework.  Bounds (413, 503), the OpenRLHF ``/get_reward`` contract, metrics and
graceful shutdown are checked on the wire."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
pytest.importorskip("prometheus_client")
httpx = pytest.importorskip("httpx")

import uvicorn  # noqa: E402

from chil_core.scoring import Scorer  # noqa: E402
from chil_core.serve import ServeOptions, create_app  # noqa: E402

RIGHT = "48/2 = <<48/2=24>>24\n#### 24"
WRONG = "48/2 = <<48/2=25>>25\n#### 25"
PROMPT = "Natalia sold 48 clips and then half as many. How many in May?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A uvicorn server on a thread (in-process: fast to start, shut down like a signal would)."""

    def __init__(self, scorer: Scorer, **opts) -> None:
        self.port = _free_port()
        self.app = create_app(ServeOptions(**opts), scorer=scorer)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=10, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def scorer():
    with Scorer.from_config({"cache": {"path": ""}}, frameworks=["empirical"]) as s:
        yield s


@pytest.fixture
def server(scorer):
    srv = Server(scorer, max_records=50, max_body_bytes=64 * 1024, max_concurrency=4)
    yield srv
    srv.stop()


def _record(i, completion, answer="24"):
    return {"id": f"r{i}", "prompt": PROMPT, "completion": completion, "reference": {"answer": answer}}


def test_score_pays_right_and_not_wrong_empty_or_irrelevant(server):
    records = [_record(0, RIGHT), _record(1, WRONG), _record(2, ""), _record(3, "I like turtles."),
               _record(4, "Let me think. " * 50 + "#### 25")]
    r = httpx.post(f"{server.url}/score", json={"records": records}, timeout=30)
    assert r.status_code == 200, r.text
    rows = r.json()["rewards"]
    assert [row["id"] for row in rows] == ["r0", "r1", "r2", "r3", "r4"]
    assert rows[0]["reward"] == 1.0 and rows[0]["frameworks"]["empirical"]["verdict"] == "correct"
    for row in rows[1:]:
        assert row["reward"] in (0.0, None) or row["reward"] < 0.5, row
        assert not (row["reward"] or 0) > 0.3, row
    assert rows[1]["frameworks"]["empirical"]["status"] == "scored"
    assert rows[1]["frameworks"]["empirical"]["score"] < 0.5


def test_get_reward_openrlhf_contract(server):
    prompt = f"<|user|>{PROMPT}<|assistant|>"
    body = {"query": [prompt + RIGHT + "<|im_end|>", prompt + WRONG, prompt + ""],
            "prompts": [prompt] * 3, "labels": ["24", "24", "24"]}
    r = httpx.post(f"{server.url}/get_reward", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"][0] == 1.0 and out["rewards"][1] < 0.5 and out["rewards"][2] < 0.5
    assert out["scores"] == out["rewards"]
    assert out["extra_logs"]["chil_empirical"][0] == 1.0
    assert len(out["extra_logs"]["chil_masked"]) == 3
    # a label may be a JSON object, as a chil record's reference/metadata
    body = {"query": [prompt + RIGHT], "prompts": [prompt], "labels": [json.dumps({"answer": "25"})]}
    assert httpx.post(f"{server.url}/get_reward", json=body, timeout=30).json()["rewards"][0] < 0.5


def test_bad_requests_name_the_field_and_keep_the_server_up(server):
    r = httpx.post(f"{server.url}/score", json={"records": [_record(0, RIGHT), {"id": "x", "prompt": 3}]}, timeout=10)
    assert r.status_code == 422 and "records[1]" in r.json()["error"]
    r = httpx.post(f"{server.url}/score", content=b"{not json", timeout=10)
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]
    r = httpx.post(f"{server.url}/get_reward", json={"query": ["a", "b"], "prompts": ["a"]}, timeout=10)
    assert r.status_code == 422 and "prompts" in r.json()["error"]
    r = httpx.post(f"{server.url}/get_reward", json={"query": ["a"], "labels": [True]}, timeout=10)
    assert r.status_code == 422 and "labels[0]" in r.json()["error"]
    r = httpx.post(f"{server.url}/score", json={"records": [_record(i, RIGHT) for i in range(51)]}, timeout=10)
    assert r.status_code == 413 and "51" in r.json()["error"]
    r = httpx.post(f"{server.url}/score", content=b"[" + b" " * 70_000 + b"]", timeout=10)
    assert r.status_code == 413
    assert httpx.get(f"{server.url}/health", timeout=10).json()["status"] == "ok"


def test_metrics_count_requests_statuses_and_latency(server):
    httpx.post(f"{server.url}/score", json={"records": [_record(0, RIGHT), _record(1, WRONG)]}, timeout=30)
    httpx.post(f"{server.url}/score", content=b"{", timeout=10)
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'chil_requests_total{code="200",route="/score"} 1.0' in text
    assert 'chil_requests_total{code="400",route="/score"} 1.0' in text
    assert 'chil_framework_results_total{framework="empirical",status="scored"} 2.0' in text
    assert 'chil_request_seconds_count{route="/score"} 2.0' in text
    assert "chil_backend_calls" in text


def _open_slow_request(port: int, path: str = "/score") -> tuple[socket.socket, bytes]:
    """A request whose body is only half sent: it holds one concurrency slot until finished."""
    body = json.dumps({"records": [_record(0, RIGHT)]}).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
    return sock, body[10:]


def _finish(held: tuple[socket.socket, bytes]) -> tuple[int, dict]:
    sock, rest = held
    sock.sendall(rest)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
            [h for h in data.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1]):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split(b" ")[1]), json.loads(body)


def _wait_in_flight(server: Server, n: int) -> None:
    deadline = time.monotonic() + 10
    while server.app.state.chil["in_flight"] < n:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_overload_is_503_not_a_crash(scorer):
    srv = Server(scorer, max_concurrency=2)
    try:
        held = [_open_slow_request(srv.port) for _ in range(2)]
        _wait_in_flight(srv, 2)
        r = httpx.post(f"{srv.url}/score", json={"records": [_record(0, RIGHT)]}, timeout=10)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert httpx.get(f"{srv.url}/health", timeout=10).json()["in_flight"] == 2  # health still answers
        for sock in held:
            code, out = _finish(sock)
            assert code == 200 and out["rewards"][0]["reward"] == 1.0
        assert httpx.post(f"{srv.url}/score", json={"records": [_record(0, RIGHT)]}, timeout=10).status_code == 200
        text = httpx.get(f"{srv.url}/metrics", timeout=10).text
        assert 'chil_requests_rejected_total{reason="overload"} 1.0' in text
        assert 'chil_requests_total{code="503",route="/score"} 1.0' in text
    finally:
        srv.stop()


def test_graceful_shutdown_finishes_the_request_in_flight(scorer):
    srv = Server(scorer)
    sock = _open_slow_request(srv.port)
    _wait_in_flight(srv, 1)
    srv.server.should_exit = True  # what SIGTERM does
    time.sleep(0.3)
    with pytest.raises(httpx.ConnectError):  # no new connections once shutting down
        httpx.get(f"{srv.url}/health", timeout=2)
    code, out = _finish(sock)
    assert code == 200 and out["rewards"][0]["reward"] == 1.0
    srv.thread.join(20)
    assert not srv.thread.is_alive()


def test_cli_serve_sigterm_exits_cleanly(tmp_path: Path):
    """The real ``chil serve`` process: serves, then exits 0 on SIGTERM, finishing a request in flight."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")}
    env["CHIL__CACHE__PATH"] = ""
    proc = subprocess.Popen([sys.executable, "-m", "chil_core.cli", "serve", "--port", str(port), "--frameworks", "empirical",
                             "--log-level", "warning"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
            time.sleep(0.1)
        sock = _open_slow_request(port)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        code, out = _finish(sock)
        assert code == 200 and out["rewards"][0]["reward"] == 1.0
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
