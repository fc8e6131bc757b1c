"""Config errors: every problem at once, the nearest valid name, and the environment variable behind
an override (issue 8, item 3)."""

from __future__ import annotations

import pytest

from chil_core.config import ConfigError, load_settings
from tests.test_config import reg  # noqa: F401 - the fixture


def errors_of(config, reg, env=None, **kw):  # noqa: F811
    with pytest.raises(ConfigError) as exc:
        load_settings(config, registry=reg, env=env or {}, **kw)
    return dict(exc.value.errors), str(exc.value)


def test_every_problem_at_once(reg):  # noqa: F811
    config = {
        "scheduler": {"max_batch": 0},                         # pydantic: out of range
        "cache": {"pathh": "x"},                               # pydantic: unknown key
        "frameworks": {"fw": {"options": {"treshold": 1}}},    # the framework's own options
        "tools": {"alpha": {"pth": "y"}, "gamma": {}},         # a backend option, a backend
        "train": {"learnin_rate": 0.1},                        # the trainer's table
    }
    errs, text = errors_of(config, reg)
    # before: only the first stage's errors (scheduler, cache); the rest surfaced one fix at a time
    assert set(errs) >= {"scheduler.max_batch", "cache.pathh", "frameworks.fw.options.treshold", "tools.alpha.pth",
                         "tools.gamma", "train.learnin_rate"}
    assert "did you mean `path`?" in errs["cache.pathh"]
    assert "did you mean `threshold`?" in errs["frameworks.fw.options.treshold"]
    assert "did you mean `path`?" in errs["tools.alpha.pth"]
    assert "did you mean `learning_rate`?" in errs["train.learnin_rate"]
    assert text.count("\n") == len(errs)  # one line per problem


def test_nearest_names_for_frameworks_backends_and_sections(reg):  # noqa: F811
    errs, _ = errors_of({"frameworks": {"fww": {}}, "schedulr": {}, "scheduler": {"backends": {"alpah": {}}}}, reg)
    assert "did you mean `fw`?" in errs["frameworks.fww"]
    assert "did you mean `scheduler`?" in errs["schedulr"]
    assert "did you mean `alpha`?" in errs["scheduler.backends.alpah"]
    errs, _ = errors_of({"frameworks": {"fw": {"tools": {"store": "alpah"}}}}, reg)
    assert "did you mean `alpha`?" in errs["frameworks.fw.tools.store"]
    errs, _ = errors_of({"scheduler": {"backends": {"alpha": {"wokers": 2}}}}, reg)
    assert "did you mean `workers`?" in errs["scheduler.backends.alpha.wokers"]


def test_an_override_error_names_its_environment_variable(reg):  # noqa: F811
    env = {"CHIL__SCHEDULER__MAX_BATCH": "-3", "CHIL__TRAIN__LEARNIN_RATE": "0.1", "CHIL__FRAMEWORKS__FW__WEIGHT": "2"}
    errs, _ = errors_of({}, reg, env=env)
    assert errs["scheduler.max_batch"].endswith("(set by the environment variable CHIL__SCHEDULER__MAX_BATCH)")
    assert "did you mean `learning_rate`?" in errs["train.learnin_rate"]
    assert errs["train.learnin_rate"].endswith("(set by the environment variable CHIL__TRAIN__LEARNIN_RATE)")
    assert "frameworks.fw.weight" not in errs  # a valid override is not an error


def test_valid_config_still_loads(reg):  # noqa: F811
    s = load_settings({"frameworks": {"fw": {"options": {"threshold": 0.7}}}}, registry=reg, env={})
    assert s.frameworks["fw"].options["threshold"] == 0.7 and s.frameworks["fw"].tools["store"] == "alpha"
