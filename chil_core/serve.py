"""``chil serve``: chil rewards over HTTP (Starlette on uvicorn), for trainers on other hosts.

```
POST /score        {"records": [{"id", "prompt", "completion", "reference"?, "metadata"?, ...}, ...]}
                   -> {"rewards": [{"id", "reward", "masked", "frameworks": {name: {status, score, verdict, ...}}}]}
POST /get_reward   OpenRLHF's remote reward API: {"query": [prompt+response, ...], "prompts": [...], "labels": [...]}
                   -> {"rewards": [...], "scores": [...], "extra_logs": {"chil_<framework>": [...], "chil_masked": [...]}}
GET  /health       {"status": "ok", "in_flight": n, ...}     (503 {"status": "draining"} during shutdown)
GET  /metrics      Prometheus text: requests by route and code, latency histogram, framework statuses, cache hits
```

Concurrent requests are gathered into one scorer submission (up to ``batch_records`` records, or
whatever arrived within ``batch_wait_ms``), so the scheduler deduplicates and micro-batches the tool
calls of many clients together.  Bounds: a request body larger than ``max_body_bytes`` is refused (413),
a request with more than ``max_records`` records too (413); at most ``max_concurrency`` scoring requests
are in flight: the next one is answered 503 with ``Retry-After`` at once (no queue that grows without
bound); a request that takes longer than ``request_timeout_s`` is answered 504.  SIGTERM / SIGINT stop
accepting connections, finish the requests in flight (up to ``graceful_s``), then close the scorer.
With ``workers > 1`` uvicorn runs that many processes, each with its own scorer (sharing the LMDB
cache), and replaces one that dies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from chil_core.integrations.common import (
    RecordBatcher,
    framework_scores,
    make_record,
    reward_value,
    split_query,
)
from chil_core.offload import SCORER_PROCESSES

log = logging.getLogger(__name__)

#: the options of a worker process started by uvicorn (``workers > 1``) travel in this variable
ENV_OPTIONS = "CHIL_SERVE_OPTIONS"


@dataclass
class ServeOptions:
    config: str | None = None
    frameworks: list[str] | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_records: int = 4096
    max_concurrency: int = 256
    request_timeout_s: float = 120.0
    batch_records: int = 1024
    batch_wait_ms: float = 2.0
    masked_value: float = 0.0
    graceful_s: float = 30.0


class HTTPError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Metrics:
    """Prometheus metrics of one server process (its own registry: tests may run several)."""

    def __init__(self, scorer: Any) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.core import CounterMetricFamily

        self.registry = CollectorRegistry()
        self.requests = Counter("chil_requests_total", "HTTP requests by route and status code", ["route", "code"],
                                registry=self.registry)
        self.latency = Histogram("chil_request_seconds", "Request latency", ["route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.records = Counter("chil_records_total", "Records scored", registry=self.registry)
        self.statuses = Counter("chil_framework_results_total", "Framework results by status", ["framework", "status"],
                                registry=self.registry)
        self.in_flight = Gauge("chil_requests_in_flight", "Scoring requests in flight", registry=self.registry)
        self.rejected = Counter("chil_requests_rejected_total", "Requests refused by a bound", ["reason"], registry=self.registry)

        class SchedulerCollector:
            """Cache hits and backend calls, read from the scheduler's own counters at scrape time."""

            def collect(self_inner) -> Any:  # noqa: N805
                stats = scorer.stats()
                calls = CounterMetricFamily("chil_backend_calls", "Tool calls by backend and outcome",
                                            labels=["backend", "outcome"])
                for name, s in stats.items():
                    if name == "cache" or not isinstance(s, dict):
                        continue
                    for outcome in ("calls", "cache_hits", "dedup_hits", "timeouts", "errors"):
                        calls.add_metric([name, outcome], float(s.get(outcome, 0)))
                yield calls
                cache = stats.get("cache")
                if isinstance(cache, dict):
                    fam = CounterMetricFamily("chil_cache", "Reward cache counters", labels=["kind"])
                    for k, v in cache.items():
                        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                            fam.add_metric([k], float(v))
                    yield fam

        self.registry.register(SchedulerCollector())

    def observe(self, rewards: list[Any]) -> None:
        self.records.inc(len(rewards))
        for r in rewards:
            for name, res in r.frameworks.items():
                self.statuses.labels(name, res.status).inc()


def _json(data: Any, code: int = 200, headers: Mapping[str, str] | None = None) -> Any:
    from starlette.responses import Response

    return Response(orjson.dumps(data), status_code=code, media_type="application/json", headers=dict(headers or {}))


def reward_row(r: Any) -> dict[str, Any]:
    return {"id": r.id, "reward": r.reward, "masked": r.masked,
            "frameworks": {n: res.model_dump(mode="json", exclude_none=True) for n, res in r.frameworks.items()}}


def create_app(options: ServeOptions | None = None, scorer: Any = None) -> Any:
    """The Starlette application.  ``scorer``: an existing Scorer (else one is built from the options
    at start-up and closed at shutdown)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.routing import Route

    opts = options or ServeOptions()
    state: dict[str, Any] = {"in_flight": 0, "draining": False, "started": time.time()}

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        own = scorer is None
        if own:
            from chil_core.scoring import Scorer

            s = await asyncio.to_thread(Scorer.from_config, opts.config, frameworks=opts.frameworks)
        else:
            s = scorer
        state["scorer"] = s
        state["metrics"] = Metrics(s)
        state["batcher"] = RecordBatcher(s, opts.batch_records, opts.batch_wait_ms / 1000.0)
        state["batcher"].start()
        log.info("chil serve: frameworks %s", ", ".join(s.frameworks) or "none")
        try:
            yield
        finally:
            state["draining"] = True
            # uvicorn has stopped accepting and waited for the requests in flight; finish what is left
            deadline = time.monotonic() + opts.graceful_s
            while state["in_flight"] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await state["batcher"].close()
            if own:
                await asyncio.to_thread(s.close)

    async def read_json(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None:
            try:
                if int(length) > opts.max_body_bytes:
                    raise HTTPError(413, f"request body of {int(length):,} bytes exceeds the bound of {opts.max_body_bytes:,}")
            except ValueError:
                raise HTTPError(400, "invalid Content-Length header") from None
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > opts.max_body_bytes:
                    raise HTTPError(413, f"request body exceeds the bound of {opts.max_body_bytes:,} bytes")
        except ClientDisconnect:
            raise HTTPError(400, "client disconnected before the body was read") from None
        try:
            return orjson.loads(bytes(body))
        except orjson.JSONDecodeError as exc:
            raise HTTPError(400, f"invalid JSON: {exc}") from None

    def check_count(n: int) -> None:
        if n > opts.max_records:
            state["metrics"].rejected.labels("too_many_records").inc()
            raise HTTPError(413, f"{n:,} records exceed the bound of {opts.max_records:,} per request")

    async def score_records(records: list[Any]) -> list[Any]:
        try:
            async with asyncio.timeout(opts.request_timeout_s):
                rewards = await state["batcher"].score(records)
        except TimeoutError:
            raise HTTPError(504, f"scoring took longer than {opts.request_timeout_s:g}s") from None
        state["metrics"].observe(rewards)
        return rewards

    def guarded(route: str, handler: Any) -> Any:
        async def endpoint(request: Request) -> Any:
            metrics = state["metrics"]
            t0 = time.perf_counter()
            code = 200
            if state["draining"]:
                code = 503
                resp = _json({"error": "shutting down"}, 503, {"Retry-After": "1"})
            elif state["in_flight"] >= opts.max_concurrency:
                code = 503
                metrics.rejected.labels("overload").inc()
                resp = _json({"error": f"overloaded: {opts.max_concurrency} requests in flight"}, 503, {"Retry-After": "1"})
            else:
                state["in_flight"] += 1
                metrics.in_flight.inc()
                try:
                    resp = _json(await handler(request))
                except HTTPError as exc:
                    code = exc.code
                    resp = _json({"error": exc.message}, exc.code)
                except Exception as exc:  # noqa: BLE001 - a server bug is a 500 with its name, logged
                    log.error("%s: request failed", route, exc_info=True)
                    code = 500
                    resp = _json({"error": f"internal error: {type(exc).__name__}"}, 500)
                finally:
                    state["in_flight"] -= 1
                    metrics.in_flight.dec()
            metrics.requests.labels(route, str(code)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - t0)
            return resp

        return endpoint

    async def score(request: Request) -> Any:
        from chil_core.scoring import RecordError, to_record

        data = await read_json(request)
        rows = data.get("records") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise HTTPError(422, "expected {\"records\": [...]} (or a JSON list of records)")
        check_count(len(rows))
        records = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise HTTPError(422, f"records[{i}]: expected an object, got {type(row).__name__}")
            try:
                records.append(to_record(row, i))
            except RecordError as exc:
                raise HTTPError(422, f"records[{i}].{exc.field}: {str(exc).split(': ', 2)[-1]}") from None
        rewards = await score_records(records) if records else []
        return {"rewards": [reward_row(r) for r in rewards]}

    async def get_reward(request: Request) -> Any:
        data = await read_json(request)
        if not isinstance(data, dict):
            raise HTTPError(422, "expected an object with \"query\" (and \"prompts\", \"labels\")")
        queries = data.get("query")
        if isinstance(queries, str):
            queries = [queries]
        if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
            raise HTTPError(422, "query: expected a list of strings")
        check_count(len(queries))
        prompts = data.get("prompts")
        labels = data.get("labels")
        for name, col in (("prompts", prompts), ("labels", labels)):
            if col is not None and (not isinstance(col, list) or len(col) != len(queries)):
                raise HTTPError(422, f"{name}: expected a list of {len(queries)} items, one per query")
        if prompts is not None and not all(isinstance(p, str) for p in prompts):
            raise HTTPError(422, "prompts: expected a list of strings")
        records = []
        for i, query in enumerate(queries):
            prompt = prompts[i] if prompts is not None else ""
            try:
                records.append(make_record(f"q{i}", prompt, split_query(query, prompt),
                                           labels[i] if labels is not None else None, where=f"labels[{i}]"))
            except ValueError as exc:
                raise HTTPError(422, str(exc)) from None
        rewards = await score_records(records) if records else []
        values = [reward_value(r, opts.masked_value) for r in rewards]
        return {"rewards": values, "scores": values,
                "extra_logs": framework_scores(rewards, list(state["scorer"].frameworks), opts.masked_value)}

    async def health(request: Request) -> Any:
        if state["draining"]:
            return _json({"status": "draining", "in_flight": state["in_flight"]}, 503)
        s = state.get("scorer")
        return _json({"status": "ok", "pid": os.getpid(), "in_flight": state["in_flight"],
                      "frameworks": list(s.frameworks) if s is not None else [],
                      "uptime_s": round(time.time() - state["started"], 3)})

    async def metrics(request: Request) -> Any:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        from starlette.responses import Response

        return Response(generate_latest(state["metrics"].registry), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(routes=[
        Route("/score", guarded("/score", score), methods=["POST"]),
        Route("/get_reward", guarded("/get_reward", get_reward), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ], lifespan=lifespan)
    app.state.chil = state
    return app


def app_from_env() -> Any:
    """The application of one uvicorn worker process (``workers > 1``): options from the environment."""
    raw = os.environ.get(ENV_OPTIONS)
    return create_app(ServeOptions(**json.loads(raw)) if raw else ServeOptions())


def serve(host: str, port: int, options: ServeOptions, *, workers: int = 1, log_level: str = "info") -> None:
    """Run the service until SIGINT / SIGTERM (then finish the requests in flight and close)."""
    import signal

    import uvicorn

    def stopped(signum: int, frame: Any) -> None:
        # uvicorn finishes the requests in flight, then re-raises the signal it caught: exit 0 then
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stopped)
    common = dict(host=host, port=port, log_level=log_level, timeout_graceful_shutdown=int(math.ceil(options.graceful_s)),
                  limit_concurrency=options.max_concurrency * 4 + 64, access_log=False)
    if workers > 1:
        os.environ[ENV_OPTIONS] = json.dumps(asdict(options))
        os.environ.setdefault(SCORER_PROCESSES, str(workers))  # "auto" framework workers share the CPUs among them
        uvicorn.run("chil_core.serve:app_from_env", factory=True, workers=workers, **common)
    else:
        uvicorn.run(create_app(options), **common)
