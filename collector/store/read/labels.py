"""The label codec of the store: a series' labels are stored once, as canonical JSON of sorted pairs.

Canonical means one text per label set, so the text is the series key in the ``series`` table and
in memory; ``ensure_ascii=False`` keeps Chinese mount and interface names readable in the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

EMPTY = "[]"


def encode_labels(labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    pairs = labels.items() if isinstance(labels, Mapping) else labels
    return json.dumps(sorted(pairs), separators=(",", ":"), ensure_ascii=False)


def decode_labels(text: str | None) -> dict[str, str]:
    if not text or text == EMPTY:
        return {}
    try:
        pairs = json.loads(text)
        return {str(k): str(v) for k, v in pairs}
    except (ValueError, TypeError) as e:
        raise ValueError(f"stored labels {text[:200]!r} are not a JSON list of [key, value] pairs: {e}") from None
