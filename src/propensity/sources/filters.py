"""Row filters written in the project file (``where = "..."``), compiled to Ibis, not SQL.

The language is a small, safe subset of Python expressions, so that it reads the same to
every user and runs on every engine Ibis supports::

    event_type == 'cancel'
    amount > 0 and not invoice.startswith('C')
    channel in ('web', 'app') or country != 'UK'
    coupon is None            # also: coupon is not None

Column names are bare words; quote an awkward one with backticks: `Customer ID` > 0.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from propensity.errors import SpecError

__all__ = ["compile_value", "compile_where"]

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_METHODS = {"startswith", "endswith", "contains"}
_BACKTICK = re.compile(r"`([^`]+)`")


def compile_where(text: str, table: ir.Table, where: str) -> ir.BooleanValue:
    """Compile a filter into a boolean Ibis expression over ``table``.

    Parameters
    ----------
    text
        The filter as written in the project file.
    table
        The table whose columns the filter names.
    where
        Where the filter was written (``target.where``), for error messages.
    """
    example = "write e.g. \"status == 'cancel' and amount > 0\""
    result = _compile(text, table, where, f"is not a filter; {example}")
    if not isinstance(result, ir.BooleanValue):
        raise SpecError(f"{where}: {text!r} is not a condition; compare a column, e.g. amount > 0")
    return result


def compile_value(text: str, table: ir.Table, where: str) -> ir.Value:
    """Compile a derived column such as ``Quantity * Price`` into an Ibis expression."""
    result = _compile(text, table, where, 'is not an expression; write e.g. "qty * price"')
    if not isinstance(result, ir.Value):
        raise SpecError(f'{where}: {text!r} names no column; write e.g. "qty * price"')
    return result


def _compile(text: str, table: ir.Table, where: str, not_parsed: str) -> Any:
    names: dict[str, str] = {}

    def _quote(match: re.Match[str]) -> str:
        alias = f"__col{len(names)}"
        names[alias] = match.group(1)
        return alias

    try:
        tree = ast.parse(_BACKTICK.sub(_quote, text), mode="eval")
    except SyntaxError:
        raise SpecError(f"{where}: {text!r} {not_parsed}") from None
    return _Compiler(table, names, text, where).visit(tree.body)


class _Compiler:
    def __init__(self, table: ir.Table, names: dict[str, str], text: str, where: str) -> None:
        self.table = table
        self.names = names
        self.text = text
        self.where = where

    def fail(self, what: str) -> SpecError:
        return SpecError(f"{self.where}: {self.text!r}: {what}")

    def column(self, name: str) -> ir.Value:
        name = self.names.get(name, name)
        if name not in self.table.columns:
            raise self.fail(
                f"column '{name}' not found; columns are: {', '.join(self.table.columns)}"
            )
        return self.table[name]

    def visit(self, node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp):
            values = [self.visit(v) for v in node.values]
            out = values[0]
            for value in values[1:]:
                out = (out & value) if isinstance(node.op, ast.And) else (out | value)
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.visit(node.operand)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.visit(node.operand)
            return -value
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = self.visit(node.left), self.visit(node.right)
            if (
                isinstance(left, ir.Value)
                and left.type().is_integer()
                and isinstance(node.op, ast.Div)
            ):
                left = left.cast("float64")
            return _ARITHMETIC[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):
            return self.column(node.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
            return node.value
        if isinstance(node, ast.Tuple | ast.List):
            return [self.visit(e) for e in node.elts]
        raise self.fail(
            f"'{ast.unparse(node)}' is not supported; use columns, literals, + - * /, "
            "comparisons, in (...), is None, and, or, not, .startswith(), .endswith(), "
            ".contains()"
        )

    def compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        out = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                if not (isinstance(right_node, ast.Constant) and right_node.value is None):
                    raise self.fail("`is` compares with None only: write `col is None`")
                part = left.isnull() if isinstance(op, ast.Is) else left.notnull()
                right: Any = None
            else:
                right = self.visit(right_node)
                if isinstance(op, ast.In | ast.NotIn):
                    if not isinstance(right, list):
                        raise self.fail("`in` needs a list of values, e.g. col in ('a', 'b')")
                    part = left.isin(right)
                    if isinstance(op, ast.NotIn):
                        part = ~part
                else:
                    func = _COMPARE.get(type(op))
                    if func is None:
                        raise self.fail(f"operator '{type(op).__name__}' is not supported")
                    if not isinstance(left, ir.Value) and isinstance(right, ir.Value):
                        part = func(ibis.literal(left), right)
                    else:
                        part = func(left, right)
            out = part if out is None else out & part
            left = right
        return out

    def call(self, node: ast.Call) -> Any:
        func = node.func
        if (
            not isinstance(func, ast.Attribute)
            or func.attr not in _METHODS
            or len(node.args) != 1
            or node.keywords
        ):
            raise self.fail(
                f"'{ast.unparse(node)}' is not supported; the methods are "
                "col.startswith('x'), col.endswith('x'), col.contains('x')"
            )
        target = self.visit(func.value)
        arg = self.visit(node.args[0])
        if not isinstance(target, ir.StringValue) or not isinstance(arg, str):
            raise self.fail(f"'{ast.unparse(node)}' needs a text column and a quoted text")
        if func.attr == "contains":
            return target.contains(arg)
        return getattr(target, func.attr)(arg)
