"""chil-plugin-duckdb: the DuckDB ``fact_store`` backend.  Light entry point: duckdb loads in ``start``."""

from chil_core import hookimpl
from chil_plugin_duckdb.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_duckdb.store import DuckDBFactStore

    register(DuckDBFactStore)
