"""Base classes that plugin authors subclass: :class:`Framework` and :class:`Tool`.

A *framework* judges records (``empirical``, ``consistency``...).  It never talks to a backend
directly: it asks for a *capability* (``smt``, ``fact_store``, ``logic_program``...) through the
:class:`Context` it is given, and the scheduler routes the call to whichever backend the config picked
for that capability, batching, deduplicating and caching calls across every record in flight.

A *tool* (or mini-LLM *model*) backend serves one capability.  Its ``run_batch`` receives a list of
calls and returns one result per call, in order.  It runs in the isolation the config chooses:
``inline`` (on the event loop: only for microsecond work), ``thread`` (a thread pool), or
``process`` (a worker process that is killed and replaced on timeout or crash).

Heavy libraries (z3, duckdb, torch...) are imported in ``Tool.start`` or lazily inside methods,
never at module top level, so that discovering plugins stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from chil_core.contracts import FrameworkResult, Record, ToolCall, ToolResult

Isolation = Literal["inline", "thread", "process"]


class NoOptions(BaseModel):
    """Options model for components that take none (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid")


class Context(Protocol):
    """What a framework sees of the scheduler while scoring one record."""

    async def call(self, capability: str, op: str, payload: dict[str, Any]) -> ToolResult: ...

    async def call_many(self, calls: Sequence[ToolCall]) -> list[ToolResult]: ...

    def has(self, capability: str) -> bool:
        """True when a backend for ``capability`` is configured and available."""
        ...

    def backend(self, capability: str) -> str | None:
        """Name of the backend serving ``capability`` (for evidence), or None."""
        ...


class Framework:
    """A reward framework.  Subclass, set the class attributes, implement ``score``
    (or ``extract`` + ``judge`` for the common one-round case)."""

    name: ClassVar[str]
    version: ClassVar[str] = "0.0.0"
    description: ClassVar[str] = ""
    #: capabilities this framework may call; ``True`` = required (the framework cannot run without it).
    capabilities: ClassVar[dict[str, bool]] = {}
    default_weight: ClassVar[float] = 1.0
    #: result components that measure the policy on held-out prompts (the trainer logs their mean per
    #: framework at each evaluation, e.g. ``("answer_correct",)``); empty: the reward alone.
    eval_metrics: ClassVar[tuple[str, ...]] = ()
    #: default backend per capability this framework prefers, when config says nothing.
    default_tools: ClassVar[dict[str, str]] = {}
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: True when a record's result may depend on records scored before it (episode memory): the
    #: scorer then scores this framework's batches one after another, in input order, and the
    #: framework keeps records of one episode in the order its ``score`` is called.
    sequential: ClassVar[bool] = False
    #: Record fields a result depends on, for the record-level result cache (the scorer caches each
    #: framework's result under its name, version, code, options, backends and these fields), e.g.
    #: ``("prompt", "completion", "reference")``.  None: the whole record, ``id``, ``group`` and extra
    #: fields included (always safe; declare the fields so that equal completions of a GRPO group,
    #: which differ only by id, are scored once).
    reads: ClassVar[tuple[str, ...] | None] = None
    #: False when a result is not a function of the record's content, the options and the backends
    #: (it depends on time, chance or state): the scorer then neither caches nor deduplicates it.
    cache_results: ClassVar[bool] = True
    #: capabilities whose answers depend on state (an episode memory, say) that this framework calls
    #: only for records its :meth:`result_key` gives None: a backend for one of them, uncacheable as it
    #: is, leaves the record cache on for the framework's other records (any other uncacheable backend
    #: turns the record cache off for the framework)
    stateful_capabilities: ClassVar[frozenset[str]] = frozenset()
    #: False when ``score`` cannot run in a framework worker process (``scheduler.framework_workers``):
    #: it keeps state between records, or the instance holds something its options cannot rebuild.  A
    #: worker builds the framework from its class and options and sends every record that asks for a
    #: tool back to the main process, so a framework whose result is a function of the record (see
    #: ``cache_results``) needs nothing more.
    worker_safe: ClassVar[bool] = True
    #: records (dicts of ``prompt``, ``completion``, ``metadata``...) a framework worker scores once as it
    #: starts, before it says ready, their results thrown away: the first chunk of real records then
    #: finds the code it runs warm (the tool copies' first call, the framework's first parse), which a
    #: fresh worker otherwise pays inside it.  Use words no real record has: what a warm-up leaves in
    #: a memo must not make a real record's score look faster than it is.
    warmup: ClassVar[tuple[dict[str, Any], ...]] = ()

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    def result_key(self, record: Record) -> Any:
        """The JSON-able content this framework's result on ``record`` depends on (hashed into the
        record-cache key), or None to neither cache nor deduplicate this record.

        The default: the :attr:`reads` fields (the whole record when None); None for a ``sequential``
        framework (a result that depends on earlier records is not a function of this one).  Override
        it to cache some records of a sequential framework (those outside any episode, say)."""
        if self.sequential or not self.cache_results:
            return None
        return self.content_key(record)

    def content_key(self, record: Record) -> list[Any]:
        """The record's content :meth:`result_key` hashes: the :attr:`reads` fields (the whole record
        when None).  For an override that keys some records only (a sequential framework's records
        outside any episode, say)."""
        if self.reads is None:
            return [record.id, record.prompt, record.completion, record.group, record.reference, record.metadata,
                    record.__pydantic_extra__ or None]
        return [getattr(record, f, None) for f in self.reads]

    async def score(self, record: Record, ctx: Context) -> FrameworkResult:
        """Judge one record.  The default runs ``extract`` → tools (batched) → ``judge``."""
        calls = self.extract(record)
        results = await ctx.call_many(calls) if calls else []
        return self.judge(record, calls, results)

    def extract(self, record: Record) -> list[ToolCall]:
        """Typed tool calls this record needs (one round).  Override with ``judge``."""
        return []

    def judge(self, record: Record, calls: list[ToolCall], results: list[ToolResult]) -> FrameworkResult:
        raise NotImplementedError(f"{type(self).__name__} must implement score() or extract()+judge()")

    def close(self) -> None:
        """Release resources at shutdown."""


class Tool:
    """A backend for one capability (tools and mini-LLM models alike)."""

    name: ClassVar[str]
    capability: ClassVar[str]
    version: ClassVar[str] = "0.0.0"
    description: ClassVar[str] = ""
    #: operations this backend answers; a call with another op gets an error result.
    ops: ClassVar[frozenset[str]] = frozenset()
    Options: ClassVar[type[BaseModel]] = NoOptions
    isolation: ClassVar[Isolation] = "thread"
    max_batch: ClassVar[int] = 256
    #: process isolation feeds a worker one call at a time unless this is True: then a whole batch goes
    #: in one message (for a ``run_batch`` that answers a batch in one solver invocation), with a short
    #: deadline after which each call of the batch is re-run alone (``ProcessRunner.call_batch``).
    worker_batch: ClassVar[bool] = False
    #: worker processes of a process-isolated backend when the config names none (neither
    #: ``[scheduler.backends.<name>] workers`` nor ``[scheduler] workers``); None: ``[scheduler] workers``
    #: default (1).  The pool is elastic: a worker past the first starts only when calls wait for one.
    workers: ClassVar[int | None] = None
    #: among installed backends of one capability, the highest priority available one is the default.
    priority: ClassVar[int] = 0
    #: whether results may be cached (False for backends whose answers depend on mutable state).
    cacheable: ClassVar[bool] = True
    #: ``"tool"`` or ``"model"`` (mini-LLM backends), for listings only.
    kind: ClassVar[str] = "tool"
    #: Python modules the backend imports (checked with ``importlib.util.find_spec``, nothing imported):
    #: ``{"z3": "z3-solver"}`` maps a module to the distribution to install; a tuple of names works too.
    requires_modules: ClassVar[Mapping[str, str] | tuple[str, ...]] = ()
    #: executables the backend runs, looked up on PATH: ``{"lean": "install Lean 4, e.g. with elan"}``
    #: maps a binary to how to get it; a tuple of names works too.
    requires_binaries: ClassVar[Mapping[str, str] | tuple[str, ...]] = ()

    #: True in a framework worker's own copy of this backend (see :meth:`replicable`), set before ``start``.
    replica: bool = False

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def replicable(cls, options: BaseModel) -> bool:
        """Whether a framework worker (:mod:`chil_core.offload`) may build its own instance with these
        options and call it directly, instead of sending the record back to the main process: True only
        for a backend whose answers are a function of its options and the call (read-only data, no state
        kept between calls), that opens in a moment, and that cannot hang on a call (each worker holds a
        copy: its memory, its start-up).  A call that fails or takes past the backend's timeout there
        still sends its record back, to be scored in the main process.  A copy is built with
        :attr:`replica` set (before ``start``): a backend whose calls can run long (a solver) gives its
        copies a tight budget of their own and answers a call past it with a failure, which sends the
        record back to the main process, where the call runs isolated under the backend's full limits;
        one hostile call then holds up the rest of its worker's chunk for that budget at most.
        Default: False."""
        return False

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this backend cannot run here (missing binary or library), or None when it can.

        The default checks :attr:`requires_modules` and :attr:`requires_binaries`; override it for
        other checks (a library feature, a version).  Must be cheap: nothing is imported or run."""
        import importlib.util
        import shutil

        missing = []
        modules = cls.requires_modules if isinstance(cls.requires_modules, Mapping) else {m: m for m in cls.requires_modules}
        for module, dist in modules.items():
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):  # a parent package that is missing or broken
                found = False
            if not found:
                missing.append(f"the {dist} package is not installed" + (f" (module {module})" if dist != module else ""))
        binaries = cls.requires_binaries if isinstance(cls.requires_binaries, Mapping) else {b: "" for b in cls.requires_binaries}
        for binary, hint in binaries.items():
            if shutil.which(binary) is None:
                missing.append(f"no `{binary}` binary on PATH" + (f" ({hint})" if hint else ""))
        return "; ".join(missing) or None

    def start(self) -> None:
        """Open resources (connections, solvers, models).  Called once, in the process that runs it."""

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        """Answer ``calls`` in order.  Return a ToolResult per call, or a plain JSON-able value
        (taken as ``ok``).  Raising fails the whole batch (the scheduler then retries smaller
        batches to isolate the offending call).

        The default answers each call with :meth:`run_one`; an exception answers that call alone
        through :meth:`failure`.  Override ``run_batch`` when the backend can do a batch in one go
        (one SQL query for many lookups)."""
        out: list[ToolResult | Any] = []
        for call in calls:
            try:
                out.append(self.run_one(call))
            except Exception as exc:  # noqa: BLE001 - one bad call is a status, not a failed batch
                out.append(self.failure(exc))
        return out

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        """Answer one call (used by the default :meth:`run_batch`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement run_batch() or run_one()")

    def failure(self, exc: Exception) -> ToolResult:
        """The answer to a call whose :meth:`run_one` raised ``exc`` (override to map, e.g., a
        solver's own time limit to a ``timeout`` status)."""
        return ToolResult.failure(f"{type(exc).__name__}: {str(exc)[:500]}")

    def close(self) -> None:
        """Release resources."""


if TYPE_CHECKING:  # pragma: no cover
    ComponentClass = type[Framework] | type[Tool]
