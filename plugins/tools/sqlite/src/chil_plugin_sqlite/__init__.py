"""chil-plugin-sqlite: SQLite fact store and FTS5 episode memory (stdlib sqlite3, no extra dependency)."""

from chil_core import hookimpl
from chil_plugin_sqlite.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_sqlite.facts import SqliteFactStore
    from chil_plugin_sqlite.memory import SqliteMemory

    register(SqliteFactStore)
    register(SqliteMemory)
