"""The label codec of the store: a series' labels are stored once, as canonical JSON of sorted pairs.

Canonical means one text per label set, so the text is the series key in the ``series`` table and
in memory; ``ensure_ascii=False`` keeps Chinese mount and interface names readable in the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache

EMPTY = "[]"


def encode_labels(labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    pairs = labels.items() if isinstance(labels, Mapping) else labels
    return json.dumps(sorted(pairs), separators=(",", ":"), ensure_ascii=False)


def decode_labels(text: str | None) -> dict[str, str]:
    """The labels of a stored text; a fresh dict on every call, so a caller may change it."""
    if not text or text == EMPTY:
        return {}
    return dict(_decoded(text))


@lru_cache(maxsize=65536)
def _decoded(text: str) -> tuple[tuple[str, str], ...]:
    # A fleet repeats the same few label sets (mounts, interfaces) on every host: parse each text once.
    try:
        return tuple((str(k), str(v)) for k, v in json.loads(text))
    except (ValueError, TypeError) as e:
        raise ValueError(f"stored labels {text[:200]!r} are not a JSON list of [key, value] pairs: {e}") from None
