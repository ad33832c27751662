"""Hostile values for HTTP parameters and JSON bodies, per OpenAPI schema type, as hypothesis strategies."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

MAX_STORE_INT = 2**63 - 1

HOSTILE_INTS: tuple[int, ...] = (
    0, -1, 1, 2**31, MAX_STORE_INT, MAX_STORE_INT + 1, 2**64, 10**23, -(2**63) - 1, -(10**23),
)

HOSTILE_STRINGS: tuple[str, ...] = (
    "", " ", "0", "-1", "99999999999999999999999", str(2**63), str(2**64), str(-(2**63) - 1),
    "99999999999999d", "99999999999999w", "1e309", "9" * 400 + "s", "0.0000001ms", "-5d", "0s",
    "NaN", "nan", "inf", "-inf", "Infinity", "1e309d",
    "10000-01-01T00:00:00", "9999-12-31T23:59:59.999999-14:00", "0001-01-01T00:00:00+14:00",
    "0000-00-00", "2026-13-45", "-2026-01-01", "2026-06-01T25:61:00",
    "../../../etc/passwd", "..%2f..%2fetc%2fpasswd", "/etc/shadow", "\x00", "a\x00b",
    "工单🚨\u202etxt", "a" * 10_000, "true", "null", "{}", "[]", "' OR 1=1 --", "%s%n", "7d", "now",
)

HOSTILE_FLOATS: tuple[float, ...] = (float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324, -0.0)


def hostile_int() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(HOSTILE_INTS), st.integers())


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=64))


def scalar() -> st.SearchStrategy[Any]:
    """Anything JSON can carry in one value, including the numbers a strict parser would refuse."""
    return st.one_of(hostile_text(), hostile_int(), st.sampled_from(HOSTILE_FLOATS), st.booleans(), st.none())


def query_value(schema: dict[str, Any], known: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """A value for a path or query parameter: mostly of its type, sometimes of another, sometimes real."""
    kinds = _types(schema)
    options: list[st.SearchStrategy[Any]] = [hostile_text()]
    if "integer" in kinds or "number" in kinds:
        options.append(hostile_int().map(str))
        options.append(st.sampled_from(HOSTILE_FLOATS).map(str))
    if "boolean" in kinds:
        options.append(st.sampled_from(("true", "false", "2", "yes please")))
    if "array" in kinds:
        options.append(st.lists(hostile_text(), max_size=4))
    if schema.get("enum"):
        options.append(st.sampled_from([str(v) for v in schema["enum"]]))
    if known:
        options.append(st.sampled_from(known))
    return st.one_of(options)


def json_value(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A JSON value shaped like ``schema`` where it matters for reaching the handler, hostile inside."""
    schema = resolve(schema, components)
    kinds = _types(schema)
    if depth > 3:
        return scalar()
    options: list[st.SearchStrategy[Any]] = [scalar()]
    if "object" in kinds or "properties" in schema:
        options.append(_object(schema, components, depth))
    if "array" in kinds:
        items = schema.get("items", {})
        options.append(st.lists(json_value(items, components, depth + 1), max_size=3))
    if schema.get("enum"):
        options.append(st.sampled_from(schema["enum"]))
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        options.append(json_value(sub, components, depth + 1))
    return st.one_of(options)


def _object(schema: dict[str, Any], components: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {name: json_value(sub, components, depth + 1) for name, sub in props.items()}
    return st.fixed_dictionaries(
        {k: v for k, v in fields.items() if k in required},
        optional={k: v for k, v in fields.items() if k not in required},
    )


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    kinds = {schema["type"]} if isinstance(schema.get("type"), str) else set(schema.get("type") or ())
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        kinds |= _types(sub)
    return kinds
