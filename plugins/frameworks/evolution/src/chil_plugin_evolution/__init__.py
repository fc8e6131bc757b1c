"""chil-plugin-evolution: the ``evolution`` framework.  Light entry point: the framework module loads
when the hook runs; optimisers (DEAP, cma, evosax) are separate backend plugins."""

from chil_core import hookimpl
from chil_plugin_evolution.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_frameworks(register):  # type: ignore[no-untyped-def]
    from chil_plugin_evolution.framework import EvolutionFramework

    register(EvolutionFramework)


@hookimpl
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    import click

    @cli.command("evolution")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def evolution_status(as_json: bool) -> None:
        """Status of the evolution framework: which fitness kernels are in use here."""
        import json

        from chil_plugin_evolution import kernels

        st = kernels.status()
        if as_json:
            click.echo(json.dumps({"kernels": st}, indent=2))
            return
        click.echo(f"fitness kernels in use (auto): {st['auto']}")
        for name in ("native", "numba", "numpy", "python"):
            click.echo(f"  {name:<7} {st[name]}")
