"""``system_snapshot`` (every current metric and the top processes) and ``top_processes``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil

from agent.collectors import build_collectors
from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.actions.text import columns, human_bytes
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext
from agent.diagnostics.redact import redact_text
from agent.model import Sample

# Long enough for CPU shares to mean something, short enough to feel immediate.
SAMPLE_INTERVAL = 1.0
MAX_COMMAND = 200


@dataclass(frozen=True)
class ProcRow:
    pid: int
    user: str
    cpu_percent: float
    memory_percent: float
    rss: int
    name: str
    command: str


def prime_processes(ctx: ActionContext) -> dict[int, psutil.Process]:
    """Start CPU accounting for every process; read it after a pause with :func:`read_processes`."""
    procs: dict[int, psutil.Process] = {}
    for n, p in enumerate(psutil.process_iter(["name", "username", "cmdline"])):
        if n % 200 == 0:
            ctx.check()
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
            procs[p.pid] = p
    return procs


def read_processes(ctx: ActionContext, procs: dict[int, psutil.Process]) -> list[ProcRow]:
    rows = []
    for n, p in enumerate(procs.values()):
        if n % 200 == 0:
            ctx.check()
        try:
            with p.oneshot():
                cpu = p.cpu_percent(None)
                mem = p.memory_info().rss
                mem_pct = p.memory_percent()
        except psutil.Error:
            continue  # ended meanwhile, or not ours to look at
        info = p.info
        command = " ".join(info.get("cmdline") or []) or f"[{info.get('name') or p.pid}]"
        rows.append(ProcRow(p.pid, info.get("username") or "?", cpu, mem_pct, mem, info.get("name") or "?",
                            redact_text(command)[:MAX_COMMAND]))
    return rows


def render_processes(rows: list[ProcRow], sort: str, limit: int) -> bytes:
    key = (lambda r: (-r.cpu_percent, -r.rss)) if sort == "cpu" else (lambda r: (-r.rss, -r.cpu_percent))
    chosen = sorted(rows, key=key)[:limit]
    return columns(("PID", "USER", "%CPU", "%MEM", "RSS", "NAME", "COMMAND"),
                   [(r.pid, r.user, f"{r.cpu_percent:.1f}", f"{r.memory_percent:.1f}", human_bytes(r.rss), r.name,
                     r.command) for r in chosen], right=(0, 2, 3, 4))


def prepare_top(params: Params, _cfg: DiagnosticsConfig) -> Prepared:
    sort = params.choice("sort", "cpu", ("cpu", "mem"))
    limit = params.integer("limit", 15, 1, 100)

    def run(ctx: ActionContext) -> Iterator[bytes]:
        procs = prime_processes(ctx)
        ctx.sleep(SAMPLE_INTERVAL)
        rows = read_processes(ctx, procs)
        yield f"# top {limit} of {len(rows)} processes by {sort}, CPU over {SAMPLE_INTERVAL:g} s\n".encode()
        yield render_processes(rows, sort, limit)

    return Prepared(run)


def _format_sample(s: Sample) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in s.labels)
    return f"{s.name}{{{labels}}} {s.value:.6g}" if labels else f"{s.name} {s.value:.6g}"


def prepare_snapshot(params: Params, _cfg: DiagnosticsConfig) -> Prepared:
    def run(ctx: ActionContext) -> Iterator[bytes]:
        runtime = ctx.runtime
        # Fresh instances: the agent's own collectors keep rate state that a second reader would disturb.
        collectors = [c for c, _ in build_collectors(runtime.config.collectors)]
        failed: dict[str, str] = {}
        for c in collectors:
            try:
                c.collect()  # rate collectors need a first reading
            except Exception as e:
                failed[c.name] = repr(e)
        procs = prime_processes(ctx)
        ctx.sleep(SAMPLE_INTERVAL)
        now = datetime.fromtimestamp(time.time(), tz=UTC).isoformat(timespec="seconds")
        yield (f"# system snapshot of {runtime.config.resolved_hostname()} ({runtime.agent_id}) at {now}\n"
               f"# metrics (see docs/metrics.md); rates over {SAMPLE_INTERVAL:g} s\n").encode()
        for c in collectors:
            ctx.check()
            if c.name in failed:
                continue
            try:
                samples = c.collect()
            except Exception as e:
                failed[c.name] = repr(e)
                continue
            lines = sorted(_format_sample(s) for s in samples)
            if lines:
                yield ("\n".join(lines) + "\n").encode()
        for name, error in failed.items():
            yield f"# collector {name} failed: {error}\n".encode()
        rows = read_processes(ctx, procs)
        yield f"\n# top processes by CPU ({len(rows)} processes)\n".encode()
        yield render_processes(rows, "cpu", 10)
        yield b"\n# top processes by memory\n"
        yield render_processes(rows, "mem", 10)

    return Prepared(run)


SYSTEM_SNAPSHOT = ActionSpec("system_snapshot", "every current metric of the agent's collectors and the top "
                                                "processes", {}, prepare_snapshot)
TOP_PROCESSES = ActionSpec("top_processes", "processes by CPU or memory",
                           {"sort": "cpu | mem (default cpu)", "limit": "1..100 (default 15)"}, prepare_top)
