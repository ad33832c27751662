"""``disk_usage``: the largest directories of a tree, like ``du -x -d DEPTH``, only below allowed roots.

Walked in-process without following symbolic links or leaving the file system of the starting
directory; space is what files occupy on disk (blocks), hard links counted once. The walk checks
its deadline as it goes, so a huge tree ends as a timeout with what was summed so far unreported.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.actions.text import columns, human_bytes
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext, Denied

CHECK_EVERY = 500


def allowed_directory(raw: str, roots: list[Path]) -> Path:
    """The real path of ``raw`` if it is a directory at or below one of ``roots``; :class:`Denied` otherwise."""
    if not raw.startswith("/"):
        raise Denied(f"path {raw!r} must be absolute")
    real = Path(os.path.realpath(raw))
    # realpath resolves '..' and symlinks first, so neither can lead out of a root.
    for root in roots:
        real_root = Path(os.path.realpath(root))
        if real == real_root or real_root in real.parents:
            if not real.is_dir():
                raise Denied(f"{raw} is not a directory on this host")
            return real
    allowed = ", ".join(str(r) for r in roots) or "none (diagnostics.du_roots is empty)"
    raise Denied(f"path {raw!r} is not below an allowed root; allowed: {allowed} "
                 "(the customer can change diagnostics.du_roots in agent.yaml)")


def _usage(st: os.stat_result) -> int:
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks is not None else st.st_size


def walk_usage(ctx: ActionContext, top: Path, depth: int) -> tuple[dict[tuple[str, ...], int], int, int]:
    """Bytes per directory (as path parts below ``top``) down to ``depth``; also entries seen and errors."""
    totals: dict[tuple[str, ...], int] = defaultdict(int)
    seen_links: set[tuple[int, int]] = set()
    device = top.stat().st_dev
    stack: list[tuple[Path, tuple[str, ...]]] = [(top, ())]
    entries = errors = 0
    totals[()] += _usage(top.stat())
    while stack:
        path, rel = stack.pop()
        try:
            it = os.scandir(path)
        except OSError:
            errors += 1
            continue
        with it:
            for entry in it:
                entries += 1
                if entries % CHECK_EVERY == 0:
                    ctx.check()
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    errors += 1
                    continue
                if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if key in seen_links:
                        continue
                    seen_links.add(key)
                size = _usage(st)
                child = (*rel, entry.name)
                is_dir = stat.S_ISDIR(st.st_mode)
                # A size counts for every ancestor down to the reported depth (at most depth + 1 updates).
                owner = child if is_dir else rel
                for i in range(min(len(owner), depth) + 1):
                    totals[owner[:i]] += size
                if is_dir and st.st_dev == device:
                    stack.append((Path(entry.path), child))
    return totals, entries, errors


def prepare(params: Params, cfg: DiagnosticsConfig) -> Prepared:
    raw = params.required("path", "a directory below one of diagnostics.du_roots")
    top = allowed_directory(raw, cfg.du_roots)
    depth = params.integer("depth", 1, 0, 5)
    limit = params.integer("limit", 20, 1, 500)

    def run(ctx: ActionContext) -> Iterator[bytes]:
        fs = shutil.disk_usage(top)
        yield (f"# {top}: file system {human_bytes(fs.used)} used of {human_bytes(fs.total)} "
               f"({fs.used / fs.total * 100 if fs.total else 0:.1f} %), {human_bytes(fs.free)} free\n").encode()
        totals, entries, errors = walk_usage(ctx, top, depth)
        rows = sorted(((size, top.joinpath(*parts)) for parts, size in totals.items()), key=lambda r: (-r[0], r[1]))
        yield (f"# largest {min(limit, len(rows))} of {len(rows)} directories down to depth {depth} "
               f"({entries} entries walked, other file systems skipped)\n").encode()
        yield columns(("SIZE", "PATH"), [(human_bytes(size), str(path)) for size, path in rows[:limit]], right=(0,))
        if errors:
            yield f"# {errors} entries could not be read (permissions): their sizes are missing\n".encode()

    return Prepared(run)


DISK_USAGE = ActionSpec("disk_usage", "largest directories below an allowed path",
                        {"path": "a directory below diagnostics.du_roots", "depth": "0..5 (default 1)",
                         "limit": "1..500 (default 20)"}, prepare)
