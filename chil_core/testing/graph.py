"""Conformance suite of the ``graph`` capability: a shared sample graph with hand-computed answers,
per-query errors, bounds and malformed graphs, agreement with every other installed backend.

```python
from chil_core.testing.graph import GraphConformance

class TestMyBackend(GraphConformance):
    tool_class = MyGraph
    options = {"max_edges": 1000}
```
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from fractions import Fraction
from typing import Any

from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

#      S --3--> A --3--> T
#      S --2--> B --4--> T          and  A --1/2--> B
SAMPLE_GRAPH = {"edges": [["S", "A", 3], ["S", "B", 2], ["A", "T", 3], ["B", "T", 4], ["A", "B", "1/2"]]}
SAMPLE_QUERIES: list[dict[str, Any]] = [
    {"q": "max_flow", "source": "S", "target": "T"},
    {"q": "min_cut", "source": "S", "target": "T"},
    {"q": "shortest_path", "source": "S", "target": "T"},
    {"q": "shortest_path", "source": "S", "target": "T", "weighted": False},
    {"q": "reachable", "source": "S", "target": "T", "removed": ["A", "B"]},
    {"q": "reachable", "source": "T", "target": "S"},
    {"q": "centrality", "measure": "in_degree", "nodes": ["T", "B"]},       # weighted: T 3 + 4, B 2 + 1/2
    {"q": "centrality", "measure": "betweenness", "nodes": ["A"]},
    {"q": "max_flow", "source": "S", "target": "Nowhere"},
    {"q": "shortest_path", "source": "T", "target": "S"},
]
def query_call(graph: Any, queries: list[dict[str, Any]]) -> ToolCall:
    return ToolCall(capability="graph", op="query", payload={"graph": graph, "queries": queries})


# ---------------------------------------------------------------------------------------------
# Independent reference implementations (plain Python, exact where the contract is exact): what
# backends and the framework are checked against, never the code path under test.
# ---------------------------------------------------------------------------------------------
def adjacency(edges: dict[tuple[str, str], Fraction], nodes: list[str]) -> dict[str, dict[str, Fraction]]:
    adj: dict[str, dict[str, Fraction]] = {n: {} for n in nodes}
    for (u, v), w in edges.items():
        adj[u][v] = adj[u].get(v, Fraction(0)) + w
    return adj


def reachable(adj, s, t, removed=()) -> bool:
    seen, todo = {s}, deque([s])
    while todo:
        u = todo.popleft()
        if u == t:
            return True
        for v in adj[u]:
            if v not in seen and v not in removed:
                seen.add(v)
                todo.append(v)
    return False


def dijkstra(adj, s, t):
    dist, heap = {s: Fraction(0)}, [(Fraction(0), s)]
    while heap:
        d, u = heapq.heappop(heap)
        if u == t:
            return d
        if d > dist[u]:
            continue
        for v, w in adj[u].items():
            if v not in dist or d + w < dist[v]:
                dist[v] = d + w
                heapq.heappush(heap, (d + w, v))
    return None


def hops(adj, s, t):
    dist, todo = {s: 0}, deque([s])
    while todo:
        u = todo.popleft()
        for v in adj[u]:
            if v not in dist:
                dist[v] = dist[u] + 1
                todo.append(v)
    return dist.get(t)


def max_flow(adj, s, t) -> Fraction:
    cap: dict[str, dict[str, Fraction]] = {u: dict(vs) for u, vs in adj.items()}
    for u, vs in adj.items():
        for v in vs:
            cap[v].setdefault(u, Fraction(0))
    flow = Fraction(0)
    while True:
        parent, todo = {s: None}, deque([s])
        while todo and t not in parent:
            u = todo.popleft()
            for v, c in cap[u].items():
                if c > 0 and v not in parent:
                    parent[v] = u
                    todo.append(v)
        if t not in parent:
            return flow
        path, v = [], t
        while parent[v] is not None:
            path.append((parent[v], v))
            v = parent[v]
        push = min(cap[u][v] for u, v in path)
        for u, v in path:
            cap[u][v] -= push
            cap[v][u] += push
        flow += push


def betweenness(adj, nodes) -> dict[str, float]:
    bc = dict.fromkeys(nodes, 0.0)
    for s in nodes:
        stack, preds, sigma, dist = [], {w: [] for w in nodes}, dict.fromkeys(nodes, 0), dict.fromkeys(nodes, -1)
        sigma[s], dist[s] = 1, 0
        q = deque([s])
        while q:
            v = q.popleft()
            stack.append(v)
            for w in adj[v]:
                if dist[w] < 0:
                    dist[w] = dist[v] + 1
                    q.append(w)
                if dist[w] == dist[v] + 1:
                    sigma[w] += sigma[v]
                    preds[w].append(v)
        delta = dict.fromkeys(nodes, 0.0)
        while stack:
            w = stack.pop()
            for v in preds[w]:
                delta[v] += sigma[v] / sigma[w] * (1 + delta[w])
            if w != s:
                bc[w] += delta[w]
    n = len(nodes)
    scale = 1 / ((n - 1) * (n - 2)) if n > 2 else 1.0
    return {v: b * scale for v, b in bc.items()}


def pagerank(adj, nodes, alpha=0.85, iters=2000) -> dict[str, float]:
    n = len(nodes)
    pr = dict.fromkeys(nodes, 1 / n)
    out = {u: sum(float(w) for w in adj[u].values()) for u in nodes}
    for _ in range(iters):
        dangling = sum(pr[u] for u in nodes if out[u] == 0)
        new = dict.fromkeys(nodes, (1 - alpha) / n + alpha * dangling / n)
        for u in nodes:
            if out[u]:
                for v, w in adj[u].items():
                    new[v] += alpha * pr[u] * float(w) / out[u]
        if sum(abs(new[v] - pr[v]) for v in nodes) < 1e-14:
            return new
        pr = new
    return pr


def random_graph(rng: random.Random, names: list[str] | None = None):
    """3-9 nodes, n..3n directed edges with rational weights (some 0)."""
    n = rng.randint(3, 9)
    nodes = names[:n] if names and len(names) >= n else [f"n{i}" for i in range(n)]
    edges: dict[tuple[str, str], Fraction] = {}
    for _ in range(rng.randint(n, 3 * n)):
        u, v = rng.sample(nodes, 2)
        edges[(u, v)] = Fraction(rng.randint(0, 12), rng.choice([1, 1, 2, 3]))
    return nodes, edges


class GraphConformance(MalformedPayloads, ToolConformance):
    """What every ``graph`` backend must do."""

    def sample_calls(self) -> list[ToolCall]:
        return [query_call(SAMPLE_GRAPH, SAMPLE_QUERIES),
                query_call({"directed": False, "edges": [["x", "y"], ["y", "z", 2.5]]},
                           [{"q": "shortest_path", "source": "z", "target": "x"}, {"q": "max_flow", "source": "x", "target": "z"}])]

    def hostile_calls(self) -> list[ToolCall]:
        return [query_call({"edges": [["a", "b", float("nan")]]}, []), query_call({"edges": [["a", "b", -1]]}, []),
                query_call({"edges": "a->b"}, []), query_call(SAMPLE_GRAPH, [{"q": "rm -rf"}]),
                query_call({"edges": [["a", "b"]] * (self.bound() + 1)}, [])]

    def bound(self) -> int:
        """The backend's configured edge bound (``max_edges`` option)."""
        return int(getattr(self.tool_class.Options.model_validate(self.options), "max_edges", 200_000))

    def test_sample_answers(self) -> None:
        self._skip_if_unavailable()
        first, second = self._run(self.sample_calls())
        assert first.ok, first.error
        got = first.value["answers"]
        assert first.value["nodes"] == 4 and first.value["edges"] == 5
        assert got[0] == {"value": "5"} and got[1] == {"value": "5"}
        # weighted S->T: S-A-T = 6, S-B-T = 6, S-A-B-T = 7.5: the length is 6 (either path)
        assert got[2]["length"] == "6" and got[2]["path"][0] == "S" and got[2]["path"][-1] == "T"
        assert got[3]["length"] == "2"
        assert got[4] == {"reachable": False} and got[5] == {"reachable": False}
        assert got[6]["values"] == {"T": 7.0, "B": 2.5} and got[6]["argmax"] == ["T"] and got[6]["max"] == 7.0
        # betweenness (normalized, directed): A lies on S->T shortest paths (hops) S-A-T of {S-A-T, S-B-T}: 1/2 / ((n-1)(n-2)) = 1/12
        assert abs(got[7]["values"]["A"] - 1 / 12) < 1e-12
        assert "error" in got[8] and "Nowhere" in got[8]["error"]
        assert got[9] == {"length": None, "path": []}
        assert second.ok, second.error
        assert second.value["answers"][0]["length"] == "7/2" and second.value["answers"][1] == {"value": "1"}

    def malformed_cases(self) -> list[Case]:
        return list(zip(self.hostile_calls(), [("weight", "finite"), ">= 0", "edges", "queries[0].q", "max_edges"],
                        strict=True))

    def test_agrees_with_every_other_backend(self) -> None:
        self._skip_if_unavailable()
        calls = self.sample_calls()
        mine = self._run(calls)
        for cls in self.other_backends():
            theirs = self.run_other(cls, calls)
            for a, b in zip(mine, theirs, strict=True):
                assert a.status == b.status
                for x, y in zip(a.value["answers"], b.value["answers"], strict=True):
                    assert set(x) == set(y)
                    for k in ("value", "length", "reachable", "argmax"):
                        assert x.get(k) == y.get(k), (k, x, y)
