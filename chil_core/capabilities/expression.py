"""Arithmetic expressions from hostile text, parsed into our own tree and compiled to a postfix program.

Used by symbolic-regression problems of the ``optimizer`` capability: a completion proposes an
expression such as ``2.5*x^2 - sin(x)``; nothing of it is ever executed as code.  A hand-written
tokenizer and recursive-descent parser (no ``eval``/``exec``, no Python ``ast``) accept only:

- numbers (``3``, ``0.5``, ``1e-3``), the variables a problem declares (``x``, ``x0``…), the constants
  ``pi`` and ``e``;
- ``+ - * /``, unary ``-`` and ``+``, ``^`` or ``**`` whose exponent is a numeric literal with
  ``|exponent| <= MAX_EXPONENT``;
- the functions ``sin cos tan exp log sqrt abs tanh``, one argument each;
- parentheses.

Anything else is a typed :class:`ExpressionError` whose ``status`` says what: ``forbidden`` (a ``.``,
a quote, ``__``, a bracket, an assignment, a keyword: attribute access or imports), ``unknown_name``,
``too_large`` (more than ``MAX_CHARS`` characters, ``MAX_NODES`` nodes or ``MAX_DEPTH`` nesting),
``exponent_too_large``, ``malformed``.

The compiled :class:`Program` is a flat list of opcodes (``OPCODES``) and constants that the Python,
NumPy, Numba and C++ evaluators share; evaluation is float64, so overflow gives ``inf`` (reported as
non-finite by the caller), never a hang.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_CHARS = 2_000
MAX_NODES = 256
MAX_DEPTH = 32
MAX_EXPONENT = 16
MAX_VARIABLES = 16

#: opcode numbers shared with the Numba and C++ kernels (chil_native._fitness); never renumber.
OPCODES: dict[str, int] = {
    "const": 0, "var": 1, "add": 2, "sub": 3, "mul": 4, "div": 5, "pow": 6, "neg": 7,
    "sin": 8, "cos": 9, "tan": 10, "exp": 11, "log": 12, "sqrt": 13, "abs": 14, "tanh": 15,
}
FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh")
CONSTANTS = {"pi": math.pi, "e": math.e}
_BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div"}

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z][A-Za-z0-9]*)|(?P<op>\*\*|[-+*/^(),]))")
_FORBIDDEN = re.compile(r"__|[A-Za-z_)\]]\s*\.|\.\s*[A-Za-z_(]|['\"\[\]{}=;:@!<>&|~`\\$#]"
                        r"|\b(?:import|lambda|exec|eval|open|os|sys|getattr|class)\b")


class ExpressionError(ValueError):
    """Why an expression was refused; ``status`` is one of the module docstring's statuses."""

    def __init__(self, status: str, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class Node:
    """A node of the expression tree: ``op`` is an OPCODES name; ``value`` a constant or variable index."""

    op: str
    args: tuple[Node, ...] = ()
    value: float = 0.0

    def render(self, names: tuple[str, ...]) -> str:
        if self.op == "const":
            return repr(self.value)
        if self.op == "var":
            return names[int(self.value)]
        if self.op == "neg":
            return f"(-{self.args[0].render(names)})"
        if self.op == "pow":
            return f"({self.args[0].render(names)}^{self.value!r})"
        if self.op in FUNCTIONS:
            return f"{self.op}({self.args[0].render(names)})"
        sym = {v: k for k, v in _BINARY.items()}[self.op]
        return f"({self.args[0].render(names)} {sym} {self.args[1].render(names)})"


@dataclass(frozen=True)
class Program:
    """Postfix form of a tree: ``code[i]`` an opcode, ``args[i]`` its constant / variable index /
    exponent.  ``n_vars`` variables are read from columns of the data matrix."""

    code: tuple[int, ...]
    args: tuple[float, ...]
    n_vars: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"code": list(self.code), "args": list(self.args), "n_vars": self.n_vars, "text": self.text}


class _Parser:
    def __init__(self, text: str, variables: tuple[str, ...]) -> None:
        self.vars = {v: i for i, v in enumerate(variables)}
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.nodes = 0

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        pos = 0
        n = len(text)
        while pos < n:
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ExpressionError("malformed", f"unexpected character {text[pos:].lstrip()[:1]!r} at {pos}")
            kind = m.lastgroup or ""
            out.append((kind, m.group(kind)))
            pos = m.end()
        return out

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        tok = self._peek()
        if tok is None:
            raise ExpressionError("malformed", "unexpected end of expression")
        self.pos += 1
        return tok

    def _node(self, op: str, args: tuple[Node, ...] = (), value: float = 0.0, depth: int = 0) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError("too_large", f"more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise ExpressionError("too_large", f"nesting deeper than {MAX_DEPTH}")
        return Node(op, args, value)

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("malformed", "empty expression")
        node = self._sum(0)
        if self._peek() is not None:
            raise ExpressionError("malformed", f"unexpected {self._peek()[1]!r} after a complete expression")  # type: ignore[index]
        return node

    def _sum(self, depth: int) -> Node:
        node = self._product(depth + 1)
        while (tok := self._peek()) is not None and tok[1] in ("+", "-"):
            self._take()
            node = self._node(_BINARY[tok[1]], (node, self._product(depth + 1)), depth=depth)
        return node

    def _product(self, depth: int) -> Node:
        node = self._unary(depth + 1)
        while (tok := self._peek()) is not None and tok[1] in ("*", "/"):
            self._take()
            node = self._node(_BINARY[tok[1]], (node, self._unary(depth + 1)), depth=depth)
        return node

    def _unary(self, depth: int) -> Node:
        tok = self._peek()
        if tok is not None and tok[1] in ("-", "+"):
            self._take()
            inner = self._unary(depth + 1)
            return self._node("neg", (inner,), depth=depth) if tok[1] == "-" else inner
        return self._power(depth + 1)

    def _power(self, depth: int) -> Node:
        base = self._atom(depth + 1)
        tok = self._peek()
        if tok is not None and tok[1] in ("^", "**"):
            self._take()
            sign = 1.0
            nxt = self._peek()
            while nxt is not None and nxt[1] in ("-", "+"):
                self._take()
                sign = -sign if nxt[1] == "-" else sign
                nxt = self._peek()
            if nxt is None or nxt[0] != "num":
                raise ExpressionError("exponent_too_large", "an exponent must be a number literal "
                                      f"(|exponent| <= {MAX_EXPONENT}), got {nxt[1] if nxt else 'nothing'!r}")
            self._take()
            exp = sign * float(nxt[1])
            if not math.isfinite(exp) or abs(exp) > MAX_EXPONENT:
                raise ExpressionError("exponent_too_large", f"exponent {nxt[1]} exceeds {MAX_EXPONENT}")
            after = self._peek()
            if after is not None and after[1] in ("^", "**"):
                raise ExpressionError("exponent_too_large", "chained exponents (a^b^c) are not accepted")
            return self._node("pow", (base,), exp, depth=depth)
        return base

    def _atom(self, depth: int) -> Node:
        kind, text = self._take()
        if kind == "num":
            value = float(text)
            if not math.isfinite(value):
                raise ExpressionError("malformed", f"number {text[:20]!r} is not finite")
            return self._node("const", value=value, depth=depth)
        if kind == "name":
            if text in self.vars:
                return self._node("var", value=float(self.vars[text]), depth=depth)
            if text in CONSTANTS:
                return self._node("const", value=CONSTANTS[text], depth=depth)
            if text in FUNCTIONS:
                if self._take()[1] != "(":
                    raise ExpressionError("malformed", f"{text} must be followed by '('")
                arg = self._sum(depth + 1)
                if self._take()[1] != ")":
                    raise ExpressionError("malformed", f"{text}(...) takes one argument")
                return self._node(text, (arg,), depth=depth)
            allowed = ", ".join([*self.vars, *CONSTANTS, *FUNCTIONS])
            raise ExpressionError("unknown_name", f"unknown name {text[:40]!r} (allowed: {allowed})")
        if text == "(":
            node = self._sum(depth + 1)
            if self._take()[1] != ")":
                raise ExpressionError("malformed", "missing ')'")
            return node
        raise ExpressionError("malformed", f"unexpected {text!r}")


def parse(text: Any, variables: tuple[str, ...] | list[str] = ("x",)) -> Node:
    """Parse ``text`` into a tree, or raise :class:`ExpressionError` (never anything else)."""
    if not isinstance(text, str):
        raise ExpressionError("malformed", f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ExpressionError("too_large", f"expression longer than {MAX_CHARS} characters")
    variables = tuple(variables)
    if len(variables) > MAX_VARIABLES:
        raise ExpressionError("too_large", f"more than {MAX_VARIABLES} variables")
    bad = _FORBIDDEN.search(text)
    if bad:
        raise ExpressionError("forbidden", f"{bad.group(0)!r} is not arithmetic (attribute access, imports, "
                              "indexing and assignments are refused)")
    try:
        return _Parser(text, variables).parse()
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops this first
        raise ExpressionError("too_large", "expression nested too deeply") from None


def compile_tree(node: Node, variables: tuple[str, ...] | list[str]) -> Program:
    code: list[int] = []
    args: list[float] = []

    def emit(n: Node) -> None:
        for a in n.args:
            emit(a)
        code.append(OPCODES[n.op])
        args.append(n.value)

    emit(node)
    return Program(tuple(code), tuple(args), len(tuple(variables)), node.render(tuple(variables)))


def compile_expression(text: Any, variables: tuple[str, ...] | list[str] = ("x",)) -> Program:
    """Parse and compile; raises :class:`ExpressionError`."""
    return compile_tree(parse(text, variables), variables)


def _pow(a: float, b: float) -> float:
    try:
        r = a ** b
    except ZeroDivisionError:
        return math.inf
    except OverflowError:
        return math.inf
    return r if isinstance(r, float) else math.nan  # a negative base to a fractional power: complex


def _fn(op: int, a: float) -> float:
    try:
        if op == 8:
            return math.sin(a)
        if op == 9:
            return math.cos(a)
        if op == 10:
            return math.tan(a)
        if op == 11:
            try:
                return math.exp(a)
            except OverflowError:
                return math.inf
        if op == 12:
            return math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
        if op == 13:
            return math.sqrt(a) if a >= 0 else math.nan
        if op == 14:
            return abs(a)
        if op == 15:
            return math.tanh(a)
    except (ValueError, OverflowError):
        return math.nan
    raise ValueError(f"unknown opcode {op}")


def evaluate(program: Program, point: tuple[float, ...] | list[float]) -> float:
    """The pure-Python reference evaluator: ``program`` at one data point (float64 semantics:
    division by zero gives ±inf or nan, as IEEE and the NumPy / C++ kernels do)."""
    stack: list[float] = []
    for op, arg in zip(program.code, program.args, strict=True):
        if op == 0:
            stack.append(arg)
        elif op == 1:
            stack.append(float(point[int(arg)]))
        elif 2 <= op <= 5:
            b = stack.pop()
            a = stack.pop()
            if op == 2:
                stack.append(a + b)
            elif op == 3:
                stack.append(a - b)
            elif op == 4:
                stack.append(a * b)
            elif b != 0.0:
                stack.append(a / b)
            else:
                stack.append(math.nan if a == 0.0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b))
        elif op == 6:
            stack.append(_pow(stack.pop(), arg))
        elif op == 7:
            stack.append(-stack.pop())
        else:
            stack.append(_fn(op, stack.pop()))
    return stack[0]
