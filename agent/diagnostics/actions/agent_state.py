"""``agent_state``: the agent's effective configuration (credentials redacted) and the state of its spool.

The ``diagnostics`` part of the configuration is the customer's consent, so an engineer can see
what this host allows before asking for something it will refuse.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from agent import __version__
from agent.configtypes import plain
from agent.diagnostics import yamltext
from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.actions.text import human_bytes
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext
from agent.diagnostics.redact import redact_value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def prepare(params: Params, _cfg: DiagnosticsConfig) -> Prepared:
    def run(ctx: ActionContext) -> Iterator[bytes]:
        rt = ctx.runtime
        uptime = time.time() - rt.started_at
        yield (f"# agent {rt.agent_id} version {__version__}, Python {platform.python_version()}, "
               f"running for {uptime / 3600:.1f} h\n").encode()
        stats = rt.spool_stats()
        spool = asdict(stats) if is_dataclass(stats) and not isinstance(stats, type) else dict(vars(stats))
        yield (f"# spool: {spool.get('depth_batches')} batches ({human_bytes(spool.get('depth_bytes'))}) waiting "
               f"for an ack, {spool.get('dropped_batches')} dropped since it was created\n").encode()
        yield yamltext.dump({"spool": _plain(spool)}).encode()
        yield b"\n# effective configuration (credential-like values redacted)\n"
        yield yamltext.dump(redact_value("", plain(rt.config))).encode()

    return Prepared(run)


AGENT_STATE = ActionSpec("agent_state", "the agent's effective configuration (redacted) and its spool", {}, prepare)
