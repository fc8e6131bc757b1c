"""A bounded reader of the CPLEX LP format (the subset models are written in) into the ``solver`` model
contract (:mod:`chil_core.capabilities.solver`).  Nothing is executed; sizes are bounded by the caller.

::

    Maximize
     obj: 3 x + 2 y
    Subject To
     c1: x + y <= 4
     c2: x + 3 y <= 6
    Bounds
     x <= 3
     -1 <= y <= 10
     z free
    General
     x
    Binary
     b
    End

Coefficients are rationals (``2/3`` allowed), constraints have a linear left side and a constant right
side (constants on the left move over), ``\\`` starts a comment.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from chil_core.capabilities.solver import ModelError

_SECTION_RE = re.compile(
    r"(?im)^\s*(maximi[sz]e|maximum|max|minimi[sz]e|minimum|min|subject\s+to|such\s+that|st|s\.t\.|bounds?|"
    r"generals?|integers?|binary|binaries|bin|end)\s*$")
_TOKEN_RE = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:/\d+)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_.\[\]]*)|(?P<op>[-+*])|(?P<rel><=|>=|=<|=>|<|>|=)|(?P<bad>\S))")


def _linear(text: str, where: str) -> tuple[dict[str, Fraction], Fraction]:
    """``3 x - 2/3 y + 4`` → ({x: 3, y: -2/3}, 4)."""
    terms: dict[str, Fraction] = {}
    const = Fraction(0)
    sign, coef = 1, None
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group("bad") or m.group("rel"):
            raise ModelError(f"{where}: unexpected {m.group(0).strip()!r}")
        if m.group("op") in ("+", "-"):
            if coef is not None:
                const += sign * coef
                coef, sign = None, 1
            if m.group("op") == "-":
                sign = -sign
        elif m.group("op") == "*":
            continue
        elif m.group("num"):
            num = m.group("num")
            if len(num) > 40:
                raise ModelError(f"{where}: number too long")
            if coef is not None:
                raise ModelError(f"{where}: two numbers in a row")
            try:
                coef = Fraction(num)
            except ZeroDivisionError:
                raise ModelError(f"{where}: division by zero in {num!r}") from None
        else:
            name = m.group("name")
            terms[name] = terms.get(name, Fraction(0)) + sign * (coef if coef is not None else 1)
            sign, coef = 1, None
    if coef is not None:
        const += sign * coef
    return terms, const


def parse_lp(text: str) -> dict[str, Any]:
    """The model dict (``solver`` contract) of an LP-format text; ModelError names the line."""
    sections: list[tuple[str, str]] = []
    marks = list(_SECTION_RE.finditer(text))
    if not marks:
        raise ModelError("LP block has no Maximize/Minimize section")
    for k, m in enumerate(marks):
        body = text[m.end(): marks[k + 1].start() if k + 1 < len(marks) else len(text)]
        sections.append((m.group(1).lower().replace(" ", ""), body))
    sense, objective, constraints = None, None, []
    bounds: dict[str, dict[str, Any]] = {}
    integers: set[str] = set()
    binaries: set[str] = set()
    for head, body in sections:
        lines = [ln.split("\\", 1)[0].strip() for ln in body.splitlines()]
        lines = [ln for ln in lines if ln]
        if head.startswith("max") or head.startswith("min"):
            sense = "max" if head.startswith("max") else "min"
            expr = " ".join(lines)
            expr = expr.split(":", 1)[1] if ":" in expr else expr
            objective = _linear(expr, "objective")
        elif head in ("subjectto", "suchthat", "st", "s.t."):
            joined, current = [], ""
            for ln in lines:  # a constraint may span lines: it ends at its right-hand side
                current = f"{current} {ln}".strip()
                if re.search(r"(<=|>=|=<|=>|<|>|=)\s*[-+]?\s*(\d+(\.\d*)?(/\d+)?|\.\d+)\s*$", current):
                    joined.append(current)
                    current = ""
            if current:
                raise ModelError(f"constraint {current[:60]!r} has no constant right-hand side")
            for i, ln in enumerate(joined):
                name = f"c{i + 1}"
                if ":" in ln:
                    name, ln = (s.strip() for s in ln.split(":", 1))
                rel = re.search(r"<=|>=|=<|=>|<|>|=", ln)
                assert rel is not None
                lhs, rhs_t = ln[: rel.start()], ln[rel.end():]
                terms, c1 = _linear(lhs, f"constraint {name}")
                rterms, c2 = _linear(rhs_t, f"constraint {name}")
                if rterms:
                    raise ModelError(f"constraint {name}: variables on the right-hand side")
                op = {"<": "<=", "=<": "<=", ">": ">=", "=>": ">="}.get(rel.group(0), rel.group(0))
                constraints.append({"name": name, "terms": {k: str(v) for k, v in terms.items()}, "sense": op, "rhs": str(c2 - c1)})
        elif head.startswith("bound"):
            for ln in lines:
                _bound_line(ln, bounds)
        elif head.startswith("gen") or head.startswith("int"):
            integers.update(" ".join(lines).split())
        elif head.startswith("bin"):
            binaries.update(" ".join(lines).split())
    if sense is None or objective is None:
        raise ModelError("LP block has no objective")
    names: list[str] = []
    for n in objective[0]:
        names.append(n)
    for c in constraints:
        names += [n for n in c["terms"] if n not in names]
    names += [n for n in [*bounds, *sorted(integers), *sorted(binaries)] if n not in names]
    seen: set[str] = set()
    variables = []
    for n in names:
        if n in seen:
            continue
        seen.add(n)
        v: dict[str, Any] = {"name": n, **bounds.get(n, {})}
        if n in integers:
            v["integer"] = True
        if n in binaries:
            v["binary"] = True
        variables.append(v)
    return {"sense": sense, "variables": variables,
            "objective": {"terms": {k: str(v) for k, v in objective[0].items()}, "constant": str(objective[1])},
            "constraints": constraints}


def _bound_line(ln: str, bounds: dict[str, dict[str, Any]]) -> None:
    parts = ln.split()
    if len(parts) == 2 and parts[1].lower() == "free":
        bounds.setdefault(parts[0], {}).update(lb=None, ub=None)
        return
    toks = re.split(r"\s*(<=|>=|=<|=>|<|>|=)\s*", ln.strip())
    if len(toks) == 3:
        a, op, b = toks
        if _is_num(b):
            bounds.setdefault(a, {})["ub" if op in ("<=", "=<", "<") else "lb" if op in (">=", "=>", ">") else "fix"] = _num(b)
        elif _is_num(a):
            bounds.setdefault(b, {})["lb" if op in ("<=", "=<", "<") else "ub" if op in (">=", "=>", ">") else "fix"] = _num(a)
        else:
            raise ModelError(f"bound {ln[:60]!r} is not understood")
    elif len(toks) == 5 and toks[1] in ("<=", "=<", "<") and toks[3] in ("<=", "=<", "<"):
        bounds.setdefault(toks[2], {}).update(lb=_num(toks[0]), ub=_num(toks[4]))
    else:
        raise ModelError(f"bound {ln[:60]!r} is not understood")
    for b in bounds.values():
        if "fix" in b:
            b["lb"] = b["ub"] = b.pop("fix")


def _is_num(s: str) -> bool:
    return bool(re.fullmatch(r"[-+]?\s*(\d+(\.\d*)?(/\d+)?|\.\d+|inf(inity)?)", s.strip(), re.I))


def _num(s: str) -> str | None:
    s = s.replace(" ", "")
    if s.lower().lstrip("+-").startswith("inf"):
        return None
    return s
