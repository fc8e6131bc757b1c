from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo classifier, exported to ONNX (FP32 + INT8) by `chil model export`'s code."""
    from chil_plugin_transformers.demo import demo_for_tests

    return demo_for_tests(tmp_path_factory.getbasetemp(), export=True)
