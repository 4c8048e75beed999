"""The demo's tools. Your own live in your package: name it in TOOLS_MODULES."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from activities.tools import ToolError, tool


class TemperatureUnit(StrEnum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


class Weather(BaseModel):
    city: str
    temperature: float
    unit: TemperatureUnit
    conditions: str


_CONDITIONS = ("sunny", "cloudy", "rainy", "windy", "snowy")


@tool
def get_weather(
    city: Annotated[str, Field(description="city name, e.g. Paris")],
    unit: TemperatureUnit = TemperatureUnit.celsius,
) -> Weather:
    """Current weather in a city."""
    seed = sum(city.lower().encode())
    celsius = seed % 35 - 5
    temperature = celsius if unit is TemperatureUnit.celsius else celsius * 9 / 5 + 32
    return Weather(city=city, temperature=temperature, unit=unit, conditions=_CONDITIONS[seed % 5])


_OPERATORS: dict[type[ast.AST], Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


@tool
def calculate(
    expression: Annotated[str, Field(description="arithmetic, e.g. (2 + 3) * 4")],
) -> str:
    """Evaluate an arithmetic expression exactly as written."""
    try:
        return str(_evaluate(ast.parse(expression, mode="eval").body))
    except (SyntaxError, ZeroDivisionError, OverflowError) as err:
        raise ToolError(f"cannot evaluate {expression!r}: {err}") from None


def _evaluate(node: ast.expr) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        if isinstance(node.op, ast.Pow) and abs(_evaluate(node.right)) > 100:
            raise OverflowError("exponent too large")
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise SyntaxError("only numbers and + - * / % ** are allowed")


_ORDERS = {"A-1001": "shipped", "A-1002": "processing", "A-1003": "delivered"}


@tool
def get_order_status(
    order_id: Annotated[str, Field(description="order number, e.g. A-1001")],
) -> dict[str, str]:
    """Status of a customer's order."""
    status = _ORDERS.get(order_id.upper())
    if status is None:
        raise ToolError(f"no order {order_id}")
    return {"order_id": order_id.upper(), "status": status}
