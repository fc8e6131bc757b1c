from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo classifier (number / word), trained here in a few seconds."""
    from chil_plugin_transformers.demo import demo_for_tests

    return demo_for_tests(tmp_path_factory.getbasetemp())
