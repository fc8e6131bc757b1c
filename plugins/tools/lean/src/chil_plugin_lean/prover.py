"""``LeanProver``: the ``theorem_prover`` capability, checking Lean 4 snippets with a ``lean`` binary.

Op ``check``, as :mod:`chil_core.capabilities.theorem_prover` defines it::

    payload = {"code": "theorem t : 1 + 1 = 2 := by decide"}
    value   = {"valid": bool, "sorry": bool, "exit_code": int, "messages": "..."}

``valid`` is true only when ``lean`` exits 0, reports no error and no ``sorry``.  The snippet is hostile
input, so before anything runs it must pass a denylist (no ``#eval``, ``run_cmd``/``run_elab``, ``macro``/
``elab``/``syntax`` extensions, ``initialize``, ``unsafe``, ``@[extern]``/``@[implemented_by]``, ``IO``,
``axiom``, ``native_decide``, and only configured imports); then ``lean`` runs in a fresh temporary
directory, in its own session, under ``ulimit`` (virtual memory, CPU time, file size) and a wall-clock
timeout that kills the whole process group.  This is defence in depth, not a sandbox: for untrusted
training at scale, run this backend with ``isolation = "process"`` inside a container.

Without a ``lean`` binary on PATH :meth:`unavailable_reason` says so, ``chil
plugins`` lists the backend as unavailable, and the empirical framework abstains on proofs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities.theorem_prover import (
    OPS,
    SORRY,
    ProverPayloadError,
    parse_check,
    refused,
    verdict,
)

_DENY_RE = re.compile(
    r"#eval|#exit|#reduce|#load|\brun_cmd\b|\brun_elab\b|\brun_meta\b|\belab\b|\belab_rules\b|\bmacro\b|\bmacro_rules\b"
    r"|\bsyntax\b|\binitialize\b|\bbuiltin_initialize\b|\bunsafe\b|@\[\s*(?:extern|implemented_by|export|init)\b"
    r"|\bIO\b|\bSystem\b|\bFFI\b|\baxiom\b|\bnative_decide\b|\bLean\.Elab\b|\bLean\.Meta\b"
)
_IMPORT_RE = re.compile(r"^\s*import\s+(.+)$", re.M)
_ERROR_RE = re.compile(r"(?m)^\S*:\d+:\d+: error\b|^error\b")


class LeanOptions(BaseModel):
    """``[tools.lean]``."""

    model_config = ConfigDict(extra="forbid")

    project_dir: str | None = Field(default=None, description="A Lake project: run `lake env lean` there (Mathlib).")
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="Wall-clock limit of one check.")
    max_memory_mb: int = Field(default=4096, ge=64, description="Virtual memory limit of lean (ulimit -v).")
    max_code_chars: int = Field(default=100_000, ge=1, description="Largest snippet accepted.")
    allowed_imports: list[str] = Field(default_factory=lambda: ["Mathlib", "Std", "Batteries", "Init", "Aesop"],
                                       description="Module prefixes a snippet may import.")


class LeanProver(Tool):
    """Lean 4 as the ``theorem_prover``: one guarded subprocess per snippet."""

    name: ClassVar[str] = "lean"
    capability: ClassVar[str] = "theorem_prover"
    description: ClassVar[str] = "Lean 4: checks proof snippets with a lean binary (subprocess, timeout, ulimit)."
    ops: ClassVar[frozenset[str]] = OPS
    version: ClassVar[str] = "0.1.0"
    Options: ClassVar[type[BaseModel]] = LeanOptions
    max_batch: ClassVar[int] = 4
    priority: ClassVar[int] = 10
    options: LeanOptions

    requires_binaries: ClassVar[dict[str, str]] = {"lean": "install Lean 4, e.g. with elan"}

    def start(self) -> None:
        opts = self.options
        program = "lake" if opts.project_dir else "lean"
        exe = shutil.which(program)
        if exe is None:
            raise FileNotFoundError(f"tools.lean: no `{program}` binary on PATH")
        self.command = [exe, "env", "lean"] if opts.project_dir else [exe]

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        out: list[ToolResult | Any] = []
        for call in calls:
            if call.op != "check":
                out.append(ToolResult.failure(f"theorem_prover has no op {call.op!r}; ops: check"))
                continue
            try:
                code = parse_check(call.payload)
            except ProverPayloadError as exc:
                out.append(ToolResult.failure(str(exc)))
                continue
            problem = self.refuse(code)
            out.append(refused(problem) if problem is not None else self.check(code))
        return out

    def refuse(self, code: str) -> str | None:
        """Why a snippet is not run (too long, a denied construct, an import outside the allow-list), or None."""
        if len(code) > self.options.max_code_chars:
            return f"payload.code: longer than {self.options.max_code_chars} characters"
        hit = _DENY_RE.search(code)
        if hit:
            return f"refused: {hit.group()!r} is not allowed in a checked snippet"
        for line in _IMPORT_RE.findall(code):
            for module in line.split():
                if not any(module == p or module.startswith(p + ".") for p in self.options.allowed_imports):
                    return f"refused: import {module!r} is not in tools.lean.allowed_imports"
        return None

    def check(self, code: str) -> ToolResult | dict[str, Any]:
        opts = self.options
        with tempfile.TemporaryDirectory(prefix="chil-lean-") as tmp:
            path = os.path.join(tmp, "Snippet.lean")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(code)
            limits = f"ulimit -v {opts.max_memory_mb * 1024}; ulimit -t {int(opts.timeout_s) + 1}; ulimit -f 65536; "
            argv = ["/bin/sh", "-c", limits + 'exec "$@"', "lean-check", *self.command, path]
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "ELAN_HOME", "LEAN_PATH", "LANG")}
            try:
                proc = subprocess.Popen(argv, cwd=opts.project_dir or tmp, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                return ToolResult.failure(f"cannot run lean: {exc}", "unavailable")
            try:
                output, _ = proc.communicate(timeout=opts.timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                return ToolResult.failure(f"lean did not finish within {opts.timeout_s:g}s", "timeout")
        text = output.decode("utf-8", "replace").replace(tmp, "")
        sorry = bool(SORRY.search(code)) or "declaration uses 'sorry'" in text
        valid = proc.returncode == 0 and _ERROR_RE.search(text) is None
        return verdict(valid=valid, sorry=sorry, exit_code=proc.returncode, messages=text)
