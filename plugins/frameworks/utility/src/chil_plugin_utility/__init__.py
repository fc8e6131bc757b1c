"""chil-plugin-utility: the ``utility`` framework (is the proposed decision good?) and the ``chil tasks``
command.  Light entry point: the framework and the generators are imported inside the hooks."""

from chil_core import hookimpl
from chil_plugin_utility.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_frameworks(register):  # type: ignore[no-untyped-def]
    from chil_plugin_utility.framework import UtilityFramework

    register(UtilityFramework)


@hookimpl
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    from chil_plugin_utility.predictor import fit_predictor_command
    from chil_plugin_utility.tasks import tasks_command

    cli.add_command(tasks_command, "tasks")
    cli.add_command(fit_predictor_command, "fit-predictor")


@hookimpl
def chil_training_tasks():  # type: ignore[no-untyped-def]
    """``chil train --task utility:KIND``: the generators with worked solutions (see ``tasks.embedded_tasks``)."""
    from chil_plugin_utility.tasks import embedded_tasks

    return embedded_tasks()
