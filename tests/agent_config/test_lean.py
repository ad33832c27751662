"""The agent's event loop loads without OpenSSL; whoever needs ``ssl`` later still gets it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A fresh interpreter: asyncio and gRPC as the agent imports them, a stream over the loop, then
# what the TLS probes do with ssl.
SCRIPT = """
import sys
from agent.lean import import_event_loop
import_event_loop()
import asyncio
loaded = sorted(m for m in ("ssl", "_ssl", "hashlib", "_hashlib") if m in sys.modules)
maps = open("/proc/self/maps").read() if sys.platform.startswith("linux") else ""
import grpc.aio

async def roundtrip() -> bytes:
    server = await asyncio.start_server(lambda r, w: (w.write(b"pong"), w.close()), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = await reader.read()
    writer.close()
    server.close()
    return data

assert asyncio.run(roundtrip()) == b"pong"
import ssl
ssl.create_default_context()
print(loaded, "libssl" in maps or "libcrypto" in maps, grpc.aio.insecure_channel is not None)
"""


def test_event_loop_and_grpc_load_without_openssl_which_stays_importable() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "False", "True"]


def test_hidden_leaves_loaded_modules_alone() -> None:
    import json

    from agent.lean import hidden

    with hidden("json", "agent_lean_test_absent"):
        assert sys.modules["json"] is json
        assert sys.modules["agent_lean_test_absent"] is None
    assert "agent_lean_test_absent" not in sys.modules
    assert sys.modules["json"] is json
