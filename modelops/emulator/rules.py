"""A small evaluator for the CEL subset that `x-kubernetes-validations` rules commonly use.

Supported: literals (int, double, string, bool, null, lists), `self`, `oldSelf`, field
access, indexing, `has(x.f)`, `size(x)` / `x.size()`, `x.startsWith/endsWith/contains/
matches(s)`, `x.all(v, p)`, `x.exists(v, p)`, `x.filter(v, p)`, `duration(s)`, raw and
triple-quoted strings, `in`, arithmetic, comparisons, `!`, `&&`, `||` and `?:` (filter,
duration and raw triple-quoted regexes are what Gateway API's HTTPRoute CRD uses). That
covers immutability (`self == oldSelf`), "once set, cannot be unset" (`!has(oldSelf.x)
|| has(self.x)`), and cross-field checks. A rule outside the subset raises `RuleError`,
which the caller reports as an invalid value naming the rule,
so an unsupported rule is visible rather than silently passing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


class RuleError(Exception):
    """The rule uses CEL this evaluator does not support, or fails on the given data."""


_TOKEN_RE = re.compile(r"""
    \s*(?:
      (?P<num>\d+\.\d+|\d+)
     |(?P<str>[rR]?(?:"{3}[\s\S]*?"{3}|'{3}[\s\S]*?'{3}|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'))
     |(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!?:().,\[\]])
     |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)

_ABSENT = object()


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    result, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if not match or match.end() == position:
            raise RuleError(f"cannot parse the rule near {text[position:position + 12]!r}")
        kind = match.lastgroup or ""
        result.append(_Token(kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return result


Node = Callable[[dict[str, Any]], Any]

_BINARY: list[set[str]] = [{"||"}, {"&&"}, {"==", "!=", "<", "<=", ">", ">=", "in"}, {"+", "-"}, {"*", "/", "%"}]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index].text if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> _Token:
        if self.index >= len(self.tokens):
            raise RuleError("the rule ends unexpectedly")
        token = self.tokens[self.index]
        if expected is not None and token.text != expected:
            raise RuleError(f"expected {expected!r}, found {token.text!r}")
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.ternary()
        if self.peek() is not None:
            raise RuleError(f"unexpected {self.peek()!r}")
        return node

    def ternary(self) -> Node:
        condition = self.binary(0)
        if self.peek() != "?":
            return condition
        self.take("?")
        yes = self.ternary()
        self.take(":")
        no = self.ternary()
        return lambda env: yes(env) if _truth(condition(env)) else no(env)

    def binary(self, level: int) -> Node:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in _BINARY[level]:
            op = self.take().text
            right = self.binary(level + 1)
            left = _combine(op, left, right)
        return left

    def unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda env: not _truth(inner(env))
        if self.peek() == "-":
            self.take()
            inner = self.unary()
            return lambda env: -inner(env)
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while self.peek() in (".", "["):
            if self.take().text == "[":
                key = self.ternary()
                self.take("]")
                node = _index(node, key)
                continue
            name = self.take().text
            node = self.method(node, name) if self.peek() == "(" else _field(node, name)
        return node

    def arguments(self) -> list[Node]:
        self.take("(")
        return self.items_until(")")

    def items_until(self, closing: str) -> list[Node]:
        """Comma-separated expressions up to and including ``closing``."""
        items: list[Node] = []
        while self.peek() != closing:
            items.append(self.ternary())
            if self.peek() == ",":
                self.take(",")
        self.take(closing)
        return items

    def method(self, target: Node, name: str) -> Node:
        if name in ("all", "exists", "exists_one", "filter"):
            self.take("(")
            variable = self.take().text
            self.take(",")
            predicate = self.ternary()
            self.take(")")
            return _macro(name, target, variable, predicate)
        args = self.arguments()
        methods: dict[str, Callable[..., Any]] = {
            "size": len, "startsWith": str.startswith, "endsWith": str.endswith,
            "contains": lambda s, x: x in s, "matches": lambda s, p: re.search(p, s) is not None,
        }
        if name not in methods:
            raise RuleError(f"the method {name}() is not supported")
        function = methods[name]
        return lambda env: function(target(env), *(a(env) for a in args))

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "num":
            number: float = float(token.text) if "." in token.text else int(token.text)
            return lambda env: number
        if token.kind == "str":
            string = _string_literal(token.text)
            return lambda env: string
        if token.text == "(":
            inner = self.ternary()
            self.take(")")
            return inner
        if token.text == "[":
            items = self.items_until("]")
            return lambda env: [item(env) for item in items]
        if token.kind != "name":
            raise RuleError(f"unexpected {token.text!r}")
        constants = {"true": True, "false": False, "null": None}
        if token.text in constants:
            constant = constants[token.text]
            return lambda env: constant
        if token.text == "has":
            self.take("(")
            target = self.postfix(self.primary())
            self.take(")")
            return _has(target)
        if token.text == "size":
            (arg,) = self.arguments()
            return lambda env: len(arg(env))
        if token.text == "duration":
            (arg,) = self.arguments()
            return lambda env: _duration(arg(env))
        name = token.text
        return lambda env: _lookup(env, name)


def _string_literal(text: str) -> str:
    raw = text[0] in "rR"
    body = text[1:] if raw else text
    quote = 3 if body[:3] in ('"""', "'''") else 1
    body = body[quote:-quote]
    return body if raw else bytes(body, "utf-8").decode("unicode_escape")


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _duration(text: Any) -> timedelta:
    """CEL's duration(): a Go duration string such as "1h30m" or "500ms"."""
    if not isinstance(text, str):
        raise RuleError(f"duration() expects a string, found {text!r}")
    sign, body = (-1.0, text[1:]) if text.startswith("-") else (1.0, text.removeprefix("+"))
    parts = _DURATION_PART.findall(body)
    if body == "0":
        return timedelta(0)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise RuleError(f"invalid duration {text!r}")
    return timedelta(seconds=sign * sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


def _lookup(env: dict[str, Any], name: str) -> Any:
    if name not in env:
        raise RuleError(f"unknown variable {name!r}")
    return env[name]


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise RuleError(f"expected a boolean, found {value!r}")
    return value


def _field(node: Node, name: str) -> Node:
    def get(env: dict[str, Any]) -> Any:
        value = node(env)
        if not isinstance(value, dict) or name not in value:
            raise RuleError(f"no such key: {name}")
        return value[name]
    return get


def _index(node: Node, key: Node) -> Node:
    def get(env: dict[str, Any]) -> Any:
        value, k = node(env), key(env)
        try:
            return value[k]
        except (KeyError, IndexError, TypeError) as error:
            raise RuleError(f"no such key or index: {k!r}") from error
    return get


def _has(target: Node) -> Node:
    def check(env: dict[str, Any]) -> bool:
        try:
            target(env)
        except RuleError:
            return False
        return True
    return check


def _macro(name: str, target: Node, variable: str, predicate: Node) -> Node:
    def run(env: dict[str, Any]) -> Any:
        collection = target(env)
        values = list(collection.keys()) if isinstance(collection, dict) else list(collection)
        results = [_truth(predicate({**env, variable: v})) for v in values]
        if name == "filter":
            return [v for v, keep in zip(values, results, strict=True) if keep]
        if name == "all":
            return all(results)
        if name == "exists":
            return any(results)
        return sum(results) == 1
    return run


def _combine(op: str, left: Node, right: Node) -> Node:
    if op == "&&":
        return lambda env: _truth(left(env)) and _truth(right(env))
    if op == "||":
        return lambda env: _truth(left(env)) or _truth(right(env))
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        "in": lambda a, b: a in b, "+": lambda a, b: a + b, "-": lambda a, b: a - b,
        "*": lambda a, b: a * b, "/": lambda a, b: a // b if isinstance(a, int) and isinstance(b, int) else a / b,
        "%": lambda a, b: a % b,
    }
    operation = operations[op]

    def run(env: dict[str, Any]) -> Any:
        try:
            return operation(left(env), right(env))
        except TypeError as error:
            raise RuleError(f"no such overload for {op!r}: {error}") from error
    return run


_CACHE: dict[str, Node] = {}


def evaluate(rule: str, self_value: Any, old_value: Any = None) -> bool:
    """Evaluate one rule with `self` (and `oldSelf`); True means the object passes."""
    node = _CACHE.get(rule)
    if node is None:
        node = _CACHE[rule] = _Parser(rule).parse()
    return _truth(node({"self": self_value, "oldSelf": old_value}))
