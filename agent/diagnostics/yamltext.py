"""Plain data (dicts, lists, strings, numbers, booleans, None) as block-style YAML, without PyYAML.

The agent shows its effective configuration in the layout of agent.yaml, but must not load
PyYAML for it (see :mod:`agent.configcheck` on why the agent keeps its imports small). The output
is valid YAML that reads back to the same data: a string is written plain only when YAML would
read it back as that same string, and double-quoted (JSON escapes, which YAML shares) otherwise.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

# Starts with a letter, '_' or '/' (never a number, '.inf' or an indicator), single spaces between
# words, and only characters that mean nothing in a plain scalar (no ':', '#', quotes, brackets).
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+=-]*(?: [A-Za-z0-9_./@+=()-]+)*$")
# YAML 1.1 (PyYAML) reads these as booleans or null.
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
# Characters JSON leaves as they are but YAML does not allow, or reads as line breaks inside quotes.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def dump(value: Any) -> str:
    """``value`` as a YAML document ending in a newline."""
    if _nested(value):
        return "".join(_block(value, 0))
    return _scalar(value) + "\n"


def _block(value: Mapping[Any, Any] | list[Any] | tuple[Any, ...], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key))}:"
            if _nested(item):
                lines.append(head + "\n")
                # Lists under a key are not indented further, as PyYAML writes them.
                lines.extend(_block(item, indent if isinstance(item, list | tuple) else indent + 2))
            else:
                lines.append(f"{head} {_scalar(item)}\n")
        return lines
    for item in value:
        if _nested(item):
            inner = _block(item, indent + 2)
            lines.append(f"{pad}- {inner[0].lstrip(' ')}")
            lines.extend(inner[1:])
        else:
            lines.append(f"{pad}- {_scalar(item)}\n")
    return lines


def _nested(value: Any) -> bool:
    return isinstance(value, Mapping | list | tuple) and bool(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text:  # YAML 1.1 reads 1e+300 as a string; 1.0e+300 is a float
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    quoted = json.dumps(text, ensure_ascii=False)  # readable Chinese; control characters escaped
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
