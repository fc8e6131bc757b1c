"""pluggy hook specifications.  A plugin module implements any of these with ``@chil_core.hookimpl``.

Every ``register`` hook receives a callback; call it once per component class.  Implementations may
take fewer arguments than the spec (pluggy), so hooks can grow without breaking old plugins.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("chil")
hookimpl = pluggy.HookimplMarker("chil")


@hookspec
def chil_register_frameworks(register):  # type: ignore[no-untyped-def]
    """Register framework classes: ``register(MyFramework)``."""


@hookspec
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    """Register tool backend classes: ``register(MyTool)``."""


@hookspec
def chil_register_models(register):  # type: ignore[no-untyped-def]
    """Register mini-LLM backend classes (subclasses of Tool with kind = 'model')."""


@hookspec
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    """Add click commands to the ``chil`` CLI group: ``@cli.command()``."""


@hookspec
def chil_startup(settings):  # type: ignore[no-untyped-def]
    """Called once when a Scorer starts, with the validated settings."""


@hookspec
def chil_shutdown():  # type: ignore[no-untyped-def]
    """Called once when a Scorer closes."""


@hookspec
def chil_after_batch(records, rewards):  # type: ignore[no-untyped-def]
    """Called after a batch of records is scored (metrics, logging, episode memory)."""


@hookspec
def chil_self_tests():  # type: ignore[no-untyped-def]
    """Return this plugin's self-test cases (a list of :class:`chil_core.selftest.SelfTest`): gold items
    that must score, mutated negatives that must fail, hostile items that must come back typed.
    ``chil doctor`` runs them against the configured backends."""


@hookspec
def chil_training_tasks():  # type: ignore[no-untyped-def]
    """Return this plugin's embedded training tasks (a list of
    :class:`chil_core.training.tasks.EmbeddedTask`): what ``chil train --task NAME`` runs without data."""
