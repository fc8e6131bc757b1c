"""Embedded training tasks: what ``chil train`` runs when no ``data`` is given.

``arithmetic`` (the default; :mod:`chil_core.training.default_task`) is built in.  Plugins add tasks with
the ``chil_training_tasks`` hook: each returns :class:`EmbeddedTask` objects, named ``plugin:kind``
(the utility plugin: ``utility:lotteries``, ``utility:knapsack``, ...).  ``chil train --task NAME``
(or ``[train] task``) picks one; the run then generates the task's prompts (seeded, the same every
time), warm-starts the tiny policy on their worked solutions and trains it with GRPO on rewards from
the task's frameworks, evaluating held-out prompts before and after.

This module imports nothing heavy (no torch): ``chil train --task`` errors come before any model loads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: the built-in embedded task
DEFAULT_TASK = "arithmetic"
#: the seed of every generated task's prompts (the data do not change with the training seed)
DATA_SEED = 0


@dataclass(frozen=True)
class EmbeddedTask:
    """One embedded task a plugin offers to ``chil train`` without ``data``.

    ``make_rows(seed)`` returns (training rows, held-out rows); each row is a chil record without a
    completion (``id``, ``prompt``, ``metadata``, optional ``reference``) plus ``solution``: a worked
    completion that earns the full reward, used only for the warm start.  ``train`` sets ``[train]``
    values for this task (a user's config or flags still win), ``policy`` the tiny policy's shape
    (``max_positions`` for long prompts), ``warm_start`` the supervised warm start (``max_steps``,
    ``batch_size``, ``learning_rate``, ``target``)."""

    name: str
    description: str
    make_rows: Callable[[int], tuple[list[dict[str, Any]], list[dict[str, Any]]]]
    frameworks: tuple[str, ...]
    train: Mapping[str, Any] = field(default_factory=dict)
    policy: Mapping[str, Any] = field(default_factory=dict)
    warm_start: Mapping[str, Any] = field(default_factory=dict)


def plugin_tasks(plugin_manager: Any = None) -> dict[str, EmbeddedTask]:
    """Every task the installed plugins offer, by name (a plugin whose hook raises is logged and skipped)."""
    from chil_core.plugins import get_plugin_manager

    pm = plugin_manager or get_plugin_manager()
    out: dict[str, EmbeddedTask] = {}
    for plugin, tasks in pm.call_each("chil_training_tasks"):
        for task in tasks or ():
            if not isinstance(task, EmbeddedTask):
                log.warning("plugin %r: chil_training_tasks returned %r, not an EmbeddedTask; skipped", plugin, task)
            elif task.name in out or task.name == DEFAULT_TASK:
                log.warning("plugin %r: embedded task %r is already defined; skipped", plugin, task.name)
            else:
                out[task.name] = task
    return out


def task_names(plugin_manager: Any = None) -> list[str]:
    return [DEFAULT_TASK, *sorted(plugin_tasks(plugin_manager))]


def find_task(name: str, plugin_manager: Any = None) -> EmbeddedTask | None:
    """The plugin task called ``name``; None for the built-in ``arithmetic``.  An unknown name is a
    ``ValueError`` listing the tasks there are."""
    if name == DEFAULT_TASK:
        return None
    tasks = plugin_tasks(plugin_manager)
    if name not in tasks:
        raise ValueError(f"task: unknown embedded task {name!r}; installed: {', '.join(task_names(plugin_manager))}")
    return tasks[name]
