"""The metric reference of docs/metrics.md, generated from the catalogue.

``python -m inspections.catalogue_doc docs/metrics.md`` rewrites the part of the file between the
two markers; everything around them is prose kept by hand. The agent cannot import the catalogue
(it imports only ``protos`` and its own libraries), so this document is how its series are described.
"""

from __future__ import annotations

import sys
from pathlib import Path

from inspections.catalogue import Catalogue, Metric, catalogue

BEGIN = "<!-- metric catalogue: generated from inspections/metrics.yaml by python -m inspections.catalogue_doc -->"
END = "<!-- end of the generated metric catalogue -->"


def _limit(m: Metric) -> str:
    if m.limit is not None:
        arrow = "↑" if m.direction == "up" else "↓"
        return f"{arrow} {m.limit:g}"
    if m.limit_of is not None:
        return f"↑ `{m.limit_of}`"
    return ""


def render(cat: Catalogue) -> str:
    """One table per group: series, unit, kind, limit, display names and description."""
    out = [BEGIN, ""]
    for group in cat.groups:
        out += [f"### `{group.name}` — {group.source}", "",
                "| series | labels | unit | kind | limit | name | 名称 | meaning |", "|---" * 8 + "|"]
        for m in group.metrics:
            kind = m.kind + (", anomaly scored" if m.anomaly else "")
            labels = ", ".join(f"`{k}`" for k in m.labels)
            out.append(f"| `{m.name}` | {labels} | {m.unit} | {kind} | {_limit(m)} | {m.display['en']} "
                       f"| {m.display['zh']} | {m.description['en']} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def rewrite(text: str, cat: Catalogue) -> str:
    """``text`` with the generated section replaced by the catalogue's current rendering."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"the document has no generated section: it needs the lines {BEGIN!r} and {END!r}")
    return head + render(cat) + tail


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m inspections.catalogue_doc docs/metrics.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(rewrite(path.read_text(encoding="utf-8"), catalogue()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
