"""The import rule (docs/architecture.md): the core imports no plugin, and a plugin's code or tests import
another plugin only when its ``pyproject.toml`` declares that plugin (as a dependency or an extra)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IMPORT = re.compile(r"^\s*(?:from|import)\s+(chil_plugin_\w+)|importorskip\(\s*[\"'](chil_plugin_\w+)", re.M)
PLUGINS = sorted(p.parent for p in REPO.glob("plugins/*/*/pyproject.toml")) + [REPO / "plugins" / "_template"]


def imported_plugins(folder: Path) -> dict[str, list[str]]:
    """Top-level ``chil_plugin_*`` package imported -> the files importing it."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        for m in IMPORT.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(m.group(1) or m.group(2), []).append(str(path.relative_to(folder)))
    return found


def declared(pyproject: Path) -> set[str]:
    """Module names of the chil plugins a pyproject names in its dependencies or optional dependencies."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    names = {re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].strip().lower().replace("-", "_") for r in reqs}
    return {n for n in names if n.startswith("chil_plugin_")}


def own_packages(folder: Path) -> set[str]:
    return {p.name for p in (folder / "src").iterdir() if p.is_dir() and p.name.startswith("chil_plugin_")}


def test_the_core_imports_no_plugin() -> None:
    assert imported_plugins(REPO / "chil_core") == {}


@pytest.mark.parametrize("folder", PLUGINS, ids=lambda p: str(p.relative_to(REPO / "plugins")))
def test_a_plugin_imports_only_the_plugins_it_declares(folder: Path) -> None:
    allowed = own_packages(folder) | declared(folder / "pyproject.toml")
    undeclared = {mod: files for mod, files in imported_plugins(folder).items() if mod not in allowed}
    assert not undeclared, f"{folder.name} imports plugins its pyproject.toml does not declare: {undeclared}"


def test_the_rule_catches_an_undeclared_import(tmp_path: Path) -> None:
    (tmp_path / "src" / "chil_plugin_a").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("import os\nfrom chil_plugin_b.x import y\nfrom chil_plugin_a import z\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "chil-plugin-a"\ndependencies = ["chil-core>=0.1"]\n')
    found = imported_plugins(tmp_path)
    assert set(found) == {"chil_plugin_a", "chil_plugin_b"}
    assert set(found) - own_packages(tmp_path) - declared(tmp_path / "pyproject.toml") == {"chil_plugin_b"}
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "chil-plugin-a"\ndependencies = ["chil-core>=0.1"]\n'
        '[project.optional-dependencies]\ntest = ["chil-plugin-b>=0.1"]\n')
    assert declared(tmp_path / "pyproject.toml") == {"chil_plugin_b"}


def core_import_graph(*, lazy: bool = True) -> dict[str, set[str]]:
    """Core module -> the core modules it imports: at import time, and with ``lazy`` in function bodies
    too (``if TYPE_CHECKING`` blocks never count).  ``from package import submodule`` counts as importing
    the submodule; the ``chil_core`` package itself loads its public names lazily, so it is no edge."""
    modules = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (REPO / "chil_core").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8")), lazy):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chil_core"):
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                deps |= subs or {node.module}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("chil_core")}
        graph[name] = {d for d in deps if d in modules and d not in (name, "chil_core")}
    return graph


def _import_nodes(node: ast.AST, lazy: bool) -> list[ast.AST]:
    out: list[ast.AST] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and not lazy:
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            out.append(child)
        out.extend(_import_nodes(child, lazy))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module."""
    found: list[list[str]] = []
    reach = {v: _reachable(graph, v) for v in graph}
    for v in sorted(graph):
        comp = sorted(w for w in reach[v] if v in reach[w]) if v in reach[v] else []
        if comp and comp not in found:
            found.append(comp)
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo.extend(graph.get(v, ()))
    return seen


def test_the_core_has_no_import_cycles() -> None:
    assert cycles(core_import_graph(lazy=False)) == []  # what runs at import time
    lazy = core_import_graph()
    # the two halves of a config read files through config_file; neither reaches the other, even lazily
    assert "chil_core.config_file" in lazy["chil_core.training.config"]
    assert "chil_core.config" not in _reachable(lazy, "chil_core.training.config")
    assert not any({"chil_core.config", "chil_core.training.config"} <= set(c) for c in cycles(lazy))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check can fail


SUITE = re.compile(r"from chil_core\.testing\.(\w+) import")


def test_every_capability_has_a_contract_and_a_suite_its_backends_subclass() -> None:
    """Each capability a tool plugin in this repo serves has its contract in chil_core.capabilities and its
    conformance suite in chil_core.testing, and the plugin's tests import that suite."""
    caps = re.compile(r"capability: ClassVar\[str\] = \"(\w+)\"|^class \w+\((\w+)Tool\)", re.M)
    bases = {"Sentiment": "sentiment", "Optimizer": "optimizer", "Fairness": "fairness", "Graph": "graph",
             "Voting": "voting", "Stereotype": "stereotype", "Embedding": "embedding", "Nlp": "nlp",
             "VectorIndex": "vector_index", "FactStore": "fact_store", "Model": "model",
             "TopicModel": "topic_model", "Predictor": "predictor"}
    seen = {}
    for folder in sorted([*REPO.glob("plugins/tools/*"), *REPO.glob("plugins/models/*")]):
        served = {m.group(1) or bases.get(m.group(2), "") for p in folder.glob("src/**/*.py")
                  for m in caps.finditer(p.read_text(encoding="utf-8"))} - {""}
        suites = {m.group(1) for p in folder.glob("tests/*.py") for m in SUITE.finditer(p.read_text(encoding="utf-8"))}
        seen[folder.name] = served
        for cap in served:
            assert (REPO / "chil_core" / "capabilities" / f"{cap}.py").is_file(), f"{folder.name}: no contract for {cap!r}"
            assert (REPO / "chil_core" / "testing" / f"{cap}.py").is_file(), f"{folder.name}: no suite for {cap!r}"
            assert cap in suites, f"{folder.name}: its tests do not use chil_core.testing.{cap}"
    assert seen["z3"] == {"smt", "logic_program"} and seen["afinn"] == {"sentiment"} and seen["onnx"] == {"model"}
    assert seen["xgboost"] == seen["lightgbm"] == {"predictor"} and seen["gensim"] == {"embedding", "topic_model"}
