"""Plain-text rendering of action output: aligned columns and human sizes, readable in a terminal."""

from __future__ import annotations

from collections.abc import Sequence


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def columns(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> bytes:
    """Rows under headers, columns padded to their widest cell; ``right`` columns are right-aligned.

    The last column is never padded, so a long command line does not push the others around.
    """
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        parts = []
        for i, c in enumerate(r):
            if i == len(r) - 1:
                parts.append(c.rjust(widths[i]) if i in right else c)
            else:
                parts.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
    return ("\n".join(lines) + "\n").encode()
