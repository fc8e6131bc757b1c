"""chil-plugin-transformers: the ``model:transformers`` backend and ``chil model fit | distill | corpus | demo``.
Light entry point: torch and transformers load when a model is first used or a command runs."""

from chil_core import hookimpl

from .selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_models(register):  # type: ignore[no-untyped-def]
    from chil_plugin_transformers.backend import TransformersModel

    register(TransformersModel)


@hookimpl
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    from chil_core.capabilities.model import model_group
    from chil_plugin_transformers.commands import corpus, demo, distill, fit

    group = model_group(cli)
    group.add_command(fit, "fit")
    group.add_command(distill, "distill")
    group.add_command(corpus, "corpus")
    group.add_command(demo, "demo")
