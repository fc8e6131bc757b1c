"""``chil doctor``'s self-test cases for model:transformers: the embedded demo model (built in a
temporary folder on first use, a few seconds) gives the right labels; malformed payloads come back typed."""

from __future__ import annotations

from typing import Any

from chil_core import hookimpl

_DEMO: dict[str, str] = {}


def demo_dir(export: bool = False) -> str:
    """The demo model directory of this process (built once; exported too when ``export``)."""
    import tempfile
    from pathlib import Path

    from chil_plugin_transformers.demo import demo_for_tests

    key = "onnx" if export else "hf"
    if key not in _DEMO:
        root = _DEMO.setdefault("root", tempfile.mkdtemp(prefix="chil-doctor-models-"))
        _DEMO[key] = str(demo_for_tests(Path(root), export=export))
    return _DEMO[key]


def model_cases(backend: str, export: bool) -> list[Any]:
    from chil_core.contracts import ToolCall
    from chil_core.selftest import SelfTest

    target = f"model:{backend}"

    def call(texts: list[str]) -> Any:
        return lambda: ToolCall(capability="model", op="classify", payload={"texts": texts, "model": demo_dir(export)})

    def labels(expected: list[str]) -> Any:
        return lambda r: None if r.ok and r.value["predicted"] == expected else f"expected labels {expected}, got {r.value or r.error}"

    return [
        SelfTest.tool(target, "demo model labels", "gold", call(["The dog ran 42 far away", "The cat sat on the mat."]),
                      status="ok", check=labels(["number", "word"])),
        SelfTest.tool(target, "1 MB text cut and flagged, empty text flagged", "hostile", call(["the cat " * 130_000, ""]),
                      status="ok", check=lambda r: None if r.ok and r.value["truncated"] == [0] and r.value["empty"] == [1]
                      else f"expected truncated [0] and empty [1], got {r.value or r.error}"),
        SelfTest.tool(target, "texts not a list", "hostile", ToolCall(capability="model", op="classify", payload={"texts": "x"})),
        SelfTest.tool(target, "generate asks for 10^9 tokens", "hostile",
                      ToolCall(capability="model", op="generate", payload={"prompt": "x", "max_new_tokens": 10**9})),
    ]


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    return model_cases("transformers", export=False)
