"""Remote diagnostics through a real collector and a real agent process on loopback.

The agent reaches the collector through :class:`DiagProxy`, which plays the hostile network path:
it alters, delays and replays signed requests. Every refusal must be audited on both sides.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from collector.localrun import child_env
from protos.patrol.v1 import agent_pb2 as pb
from tests.diagnostics.proxy import DiagProxy
from tests.integration.harness import TOKEN, AgentProcess, CollectorProcess, wait_for

pytestmark = [pytest.mark.integration]

ENGINEER = "test-engineer-token"
VIEWER = "test-viewer-token"
HOST = "diag-agent"


@dataclass
class Env:
    root: Path
    collector: CollectorProcess
    agent: AgentProcess
    proxy: DiagProxy
    log_file: Path

    @property
    def agent_audit_path(self) -> Path:
        return self.root / "agent" / "diagnostics" / "audit.jsonl"


@dataclass
class Result:
    status_code: int
    events: list[dict[str, Any]] = field(default_factory=list)
    output: bytes = b""
    detail: str = ""

    @property
    def final(self) -> dict[str, Any]:
        return next(e for e in self.events if e["type"] == "final")

    @property
    def request_id(self) -> str:
        return str(next(e for e in self.events if e["type"] == "started")["request_id"])

    @property
    def chunks(self) -> int:
        return sum(1 for e in self.events if e["type"] == "chunk")


def headers(token: str = ENGINEER) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def diag(env: Env, action: str, token: str = ENGINEER, host: str = HOST, **body: Any) -> Result:
    payload = {"host": host, "action": action, **body}
    with httpx.stream("POST", f"{env.collector.api}/api/v1/diag", params={"stream": "true"}, json=payload,
                      headers=headers(token), timeout=60) as r:
        if r.status_code >= 400:
            r.read()
            return Result(r.status_code, detail=r.json().get("detail", ""))
        result = Result(r.status_code)
        for line in r.iter_lines():
            if line.strip():
                event = json.loads(line)
                result.events.append(event)
                if event["type"] == "chunk":
                    result.output += base64.b64decode(event["data"])
    return result


def api(env: Env, method: str, path: str, token: str = ENGINEER, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{env.collector.api}{path}", headers=headers(token), timeout=30, **kwargs)


def agent_audit(env: Env, request_id: str) -> list[dict[str, Any]]:
    if not env.agent_audit_path.exists():
        return []
    lines = env.agent_audit_path.read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("request_id") == request_id]


def collector_audit(env: Env, request_id: str) -> list[dict[str, Any]]:
    rows = api(env, "GET", "/api/v1/audit", params={"events": "true", "since": "1h", "limit": 1000}).json()
    return [r for r in rows if r["request_id"] == request_id]


def collector_outcome(env: Env, request_id: str, event: str = "diag.result") -> dict[str, Any]:
    return wait_for(lambda: next((r for r in collector_audit(env, request_id) if r["event"] == event), None), 10,
                    f"collector audit {event} of {request_id}")


def agent_event(env: Env, request_id: str, event: str) -> dict[str, Any]:
    return wait_for(lambda: next((e for e in agent_audit(env, request_id) if e["event"] == event), None), 10,
                    f"agent audit {event} of {request_id}")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("diag")
    tokens = [{"name": "admin", "token": TOKEN, "role": "admin"},
              {"name": "alice", "token": ENGINEER, "role": "engineer"},
              {"name": "victor", "token": VIEWER, "role": "viewer"}]
    collector = CollectorProcess(root / "collector", api={"tokens": tokens}).start()
    proxy = DiagProxy(f"127.0.0.1:{collector.grpc_port}")
    agent: AgentProcess | None = None
    try:
        key = httpx.get(f"{collector.api}/api/v1/diag/key", headers=headers(VIEWER), timeout=10).json()
        (root / "collector.pem").write_text(key["public_key_pem"])
        logs = root / "logs"
        logs.mkdir()
        log_file = logs / "app.log"
        log_file.write_text("".join(f"2026-11-21T10:00:{i:02d}Z app: line {i}{' ERROR disk' if i % 10 == 0 else ''}\n"
                                    for i in range(60)))
        (root / "secret.txt").write_text("not for engineers\n")
        (logs / "sneaky.log").symlink_to(root / "secret.txt")
        (logs / "linked.log").hardlink_to(root / "secret.txt")
        agent = AgentProcess(root / "agent", proxy.address, agent_id=HOST, diagnostics={
            "collector_key": str(root / "collector.pem"),
            "log_paths": [str(logs / "*.log")],
            "du_roots": [str(root)],
            "clock_skew": "0s",
            "chunk_bytes": "16KiB",
            "commands": {
                "count": {"argv": ["seq", "1", "20000"]},
                "greet": {"argv": ["echo", "hello", "{who}"], "args": {"who": {"pattern": "[a-z]{1,16}"}}},
                "flood": {"argv": ["sh", "-c", "echo $$; exec yes patrol"]},
                "stall": {"argv": ["sh", "-c", "echo $$; exec sleep 30"]},
            }}).start()
        wait_for(lambda: collector.get(f"/api/v1/hosts/{HOST}").get("status") == "online"
                 if _known(collector) else False, 30, "the agent to connect")
        yield Env(root, collector, agent, proxy, log_file)
    finally:
        if agent is not None:
            agent.stop()
        collector.kill(signal.SIGTERM)
        proxy.close()


def _known(collector: CollectorProcess) -> bool:
    r = httpx.get(f"{collector.api}/api/v1/hosts/{HOST}", headers=headers(TOKEN), timeout=5)
    return r.status_code == 200


# ---------------------------------------------------------------------------------------------- success


def test_output_streams_back_in_chunks_and_is_audited_on_both_sides(env: Env) -> None:
    r = diag(env, "command", args={"name": "count"})
    expected = "".join(f"{i}\n" for i in range(1, 20001)).encode()
    assert r.final["status"] == "ok", r.final
    assert r.output == expected
    assert r.final["total_bytes"] == len(expected)
    assert r.chunks >= len(expected) // (16 * 1024)  # chunked at the agent's chunk_bytes
    started = agent_event(env, r.request_id, "started")
    assert (started["requested_by"], started["action"], started["args"]) == ("alice", "command", {"name": "count"})
    finished = agent_event(env, r.request_id, "finished")
    assert (finished["outcome"], finished["bytes"]) == ("ok", len(expected))
    result = collector_outcome(env, r.request_id)
    assert (result["outcome"], result["bytes"], result["actor"], result["host_id"]) == ("ok", len(expected), "alice",
                                                                                         HOST)


def test_builtin_actions_answer(env: Env) -> None:
    tail = diag(env, "tail_log", args={"path": str(env.log_file), "lines": "3"})
    assert tail.final["status"] == "ok"
    assert tail.output.decode().splitlines()[1:] == [f"2026-11-21T10:00:{i}Z app: line {i}" for i in (57, 58, 59)]
    grep = diag(env, "grep_log", args={"path": str(env.log_file), "pattern": "ERROR d.sk", "lines": "2"})
    assert grep.final["status"] == "ok"
    # grep -n counts lines from 1: "line 40" is line 41
    assert [line.split(":", 1)[0] for line in grep.output.decode().splitlines()[1:]] == ["41", "51"]
    greet = diag(env, "command", args={"name": "greet", "who": "bob"})
    assert (greet.final["status"], greet.output) == ("ok", b"hello bob\n")
    snapshot = diag(env, "system_snapshot")
    assert snapshot.final["status"] == "ok"
    text = snapshot.output.decode()
    assert "cpu.busy_percent" in text and "# top processes by CPU" in text
    state = diag(env, "agent_state")
    assert state.final["status"] == "ok"
    assert f"agent {HOST}" in state.output.decode() and "diagnostics:" in state.output.decode()


# ---------------------------------------------------------------------------------------------- refusals


def test_altered_request_is_refused_for_its_signature(env: Env) -> None:
    def swap(req: pb.DiagnosticRequest) -> None:
        req.args["name"] = "flood"  # an attacker on the path turns a harmless request into another one
        del req.args["who"]

    env.proxy.rewrite_next(swap)
    r = diag(env, "command", args={"name": "greet", "who": "bob"})
    assert r.final["status"] == "denied"
    assert "signature" in r.final["error"]
    assert r.output == b""
    refused = agent_event(env, r.request_id, "refused")
    assert (refused["reason"], refused["verified"]) == ("bad_signature", False)
    assert not any(e["event"] == "started" for e in agent_audit(env, r.request_id))
    result = collector_outcome(env, r.request_id)
    assert result["outcome"] == "denied" and "signature" in result["detail"]


def test_expired_request_is_refused(env: Env) -> None:
    env.proxy.delay_next(1.6)
    r = diag(env, "command", args={"name": "greet", "who": "bob"}, ttl_s=1)
    assert r.final["status"] == "denied"
    assert "expired" in r.final["error"]
    refused = agent_event(env, r.request_id, "refused")
    assert (refused["reason"], refused["verified"], refused["requested_by"]) == ("expired", True, "alice")
    assert collector_outcome(env, r.request_id)["outcome"] == "denied"


def test_replayed_request_is_refused(env: Env) -> None:
    first = diag(env, "command", args={"name": "greet", "who": "bob"})
    assert first.final["status"] == "ok"
    captured = env.proxy.last_request()
    assert captured.request_id == first.request_id
    assert env.proxy.inject(pb.CollectorMessage(diagnostic_request=captured)) == 1
    refused = agent_event(env, first.request_id, "refused")
    assert refused["reason"] == "replayed"
    assert sum(1 for e in agent_audit(env, first.request_id) if e["event"] == "started") == 1
    # The collector learns of it from the agent's answer to a request it was not waiting for.
    unsolicited = collector_outcome(env, first.request_id, "diag.unsolicited")
    assert unsolicited["outcome"] == "denied" and "replayed" in unsolicited["detail"]
    assert unsolicited["host_id"] == HOST


def test_action_the_agent_does_not_allow_is_refused(env: Env) -> None:
    r = diag(env, "network_probe", args={"tcp": "127.0.0.1:22"})
    assert r.final["status"] == "denied"
    assert "switched off" in r.final["error"]
    refused = agent_event(env, r.request_id, "refused")
    assert (refused["reason"], refused["verified"]) == ("not_allowed", True)
    assert collector_outcome(env, r.request_id)["outcome"] == "denied"
    # A log that links out of the allow-list, and a command nobody declared, are refused the same way.
    sneaky = diag(env, "tail_log", args={"path": str(env.log_file.parent / "sneaky.log")})
    assert sneaky.final["status"] == "denied" and b"not for engineers" not in sneaky.output
    undeclared = diag(env, "command", args={"name": "rm"})
    assert undeclared.final["status"] == "denied" and "no command 'rm'" in undeclared.final["error"]
    bad_value = diag(env, "command", args={"name": "greet", "who": "bob; reboot"})
    assert bad_value.final["status"] == "denied"
    linked = diag(env, "tail_log", args={"path": str(env.log_file.parent / "linked.log")})
    assert linked.final["status"] == "denied" and b"not for engineers" not in linked.output
    assert "hard link" in linked.final["error"]
    assert "hard link" in agent_event(env, linked.request_id, "refused")["error"]
    for request_id in (sneaky.request_id, undeclared.request_id, bad_value.request_id, linked.request_id):
        assert agent_event(env, request_id, "refused")["reason"] == "not_allowed"
        assert collector_outcome(env, request_id)["outcome"] == "denied"


# ---------------------------------------------------------------------------------------------- limits


def test_runaway_output_is_cut_at_the_cap(env: Env) -> None:
    r = diag(env, "command", args={"name": "flood"}, max_output=100_000, timeout_s=30)
    assert r.final["status"] == "truncated"
    assert r.final["total_bytes"] == len(r.output) == 100_000
    pid = int(r.output.split(b"\n", 1)[0])
    wait_for(lambda: gone(pid), 10, f"`yes` (pid {pid}) to be killed")
    assert agent_event(env, r.request_id, "finished")["outcome"] == "truncated"
    assert collector_outcome(env, r.request_id)["bytes"] == 100_000


def test_runaway_time_is_cut_by_the_timeout(env: Env) -> None:
    r = diag(env, "command", args={"name": "stall"}, timeout_s=1)
    assert r.final["status"] == "timeout"
    pid = int(r.output.strip())
    wait_for(lambda: gone(pid), 10, f"`sleep` (pid {pid}) to be killed")
    assert agent_event(env, r.request_id, "finished")["outcome"] == "timeout"
    assert collector_outcome(env, r.request_id)["outcome"] == "timeout"


def test_cancel_stops_a_running_action(env: Env) -> None:
    started = api(env, "POST", "/api/v1/diag", json={"host": HOST, "action": "command", "args": {"name": "stall"},
                                                      "timeout_s": 60})
    assert started.status_code == 202, started.text
    rid = started.json()["request_id"]

    def output() -> bytes:
        poll = api(env, "GET", f"/api/v1/diag/{rid}").json()
        return b"".join(base64.b64decode(c["data"]) for c in poll["chunks"])

    pid = int(wait_for(lambda: output().strip(), 10, "the command to start"))
    assert not gone(pid)
    cancelled = api(env, "POST", f"/api/v1/diag/{rid}/cancel")
    assert cancelled.status_code == 200
    final = wait_for(lambda: (p := api(env, "GET", f"/api/v1/diag/{rid}").json())["status"] != "running" and p, 10,
                     "the cancel to be confirmed")
    assert final["status"] == "cancelled" and final["cancelled_by"] == "alice"
    wait_for(lambda: gone(pid), 10, f"`sleep` (pid {pid}) to be killed")
    assert agent_event(env, rid, "cancel")["running"] is True
    assert agent_event(env, rid, "finished")["outcome"] == "cancelled"
    assert collector_outcome(env, rid, "diag.cancel")["actor"] == "alice"
    assert collector_outcome(env, rid)["outcome"] == "cancelled"


def audit_rows(env: Env) -> list[dict[str, Any]]:
    return list(api(env, "GET", "/api/v1/audit", params={"host": HOST, "since": "1h"}).json())


def test_ctrl_c_in_the_cli_cancels_on_the_agent(env: Env) -> None:
    earlier = {r["request_id"] for r in audit_rows(env)}  # the module's other tests share the collector
    cli = subprocess.Popen(
        [sys.executable, "-c", "from collector.cli import main; main()", "--url", env.collector.api, "--token",
         ENGINEER, "diag", HOST, "command", "--arg", "name=stall", "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    try:
        assert cli.stdout is not None
        pid = int(cli.stdout.readline())  # the command's first line, streamed through
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=20)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 1, err.decode()
    assert b"cancelled" in err
    wait_for(lambda: gone(pid), 10, f"`sleep` (pid {pid}) to be killed")
    # The outcome reaches the audit log when the agent's final result does, after the CLI has exited.
    # Ctrl-C also closes the CLI's result stream, which the collector takes as alice's cancel too:
    # whichever of the two arrives first is recorded.
    row = wait_for(lambda: next((r for r in audit_rows(env) if r["request_id"] not in earlier
                                 and r["args"] == {"name": "stall"} and r["outcome"] == "cancelled"
                                 and r["cancelled_by"] in ("alice", "alice (client disconnected)")), None),
                   20, "the cancelled request's audit row")
    assert agent_event(env, row["request_id"], "finished")["outcome"] == "cancelled"


# ---------------------------------------------------------------------------------------------- routing and roles


def test_offline_host_answers_at_once(env: Env) -> None:
    other = AgentProcess(env.root / "gone-agent", f"127.0.0.1:{env.collector.grpc_port}", agent_id="gone-agent")
    other.start()
    try:
        wait_for(lambda: httpx.get(f"{env.collector.api}/api/v1/hosts/gone-agent", headers=headers(TOKEN),
                                   timeout=5).status_code == 200, 30, "the second agent to register")
    finally:
        assert other.stop() == 0
    wait_for(lambda: diag(env, "agent_state", host="gone-agent").status_code == 409, 10, "the host to go offline")
    r = diag(env, "agent_state", host="gone-agent")
    assert r.status_code == 409 and "offline" in r.detail
    rows = api(env, "GET", "/api/v1/audit", params={"host": "gone-agent", "since": "1h"}).json()
    assert rows and all(row["outcome"] == "offline" for row in rows)
    unknown = diag(env, "agent_state", host="no-such-host")
    assert unknown.status_code == 404


def test_diagnostics_and_audit_need_the_engineer_role(env: Env) -> None:
    denied = diag(env, "agent_state", token=VIEWER)
    assert denied.status_code == 403 and "engineer" in denied.detail
    assert api(env, "GET", "/api/v1/audit", token=VIEWER).status_code == 403
    assert api(env, "GET", "/api/v1/diag/key", token=VIEWER).status_code == 200


def test_patrol_audit_lists_requests(env: Env) -> None:
    r = diag(env, "command", args={"name": "greet", "who": "carol"})
    assert r.final["status"] == "ok"
    collector_outcome(env, r.request_id)
    out = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url", env.collector.api,
                          "--token", ENGINEER, "audit", "--host", HOST, "--since", "1h", "--format", "json"],
                         capture_output=True, env={**child_env(), "COLUMNS": "200"}, timeout=30, check=True)
    rows = json.loads(out.stdout)
    mine = next(row for row in rows if row["request_id"] == r.request_id)
    assert (mine["actor"], mine["action"], mine["args_text"], mine["outcome"], mine["bytes"]) == (
        "alice", "command", "name=greet who=carol", "ok", len(b"hello carol\n"))
    assert abs(time.time() - datetime.fromisoformat(mine["at"]).timestamp()) < 600
    hostname = api(env, "GET", f"/api/v1/hosts/{HOST}").json()["hostname"]
    assert mine["hostname"] == hostname and mine["host_id"] == HOST
    # The table a person reads names the host (other agents of this module may share its hostname, so
    # it is asked for by id).
    table = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "--url",
                            env.collector.api, "--token", ENGINEER, "audit", "--host", HOST, "--since", "1h"],
                           capture_output=True, text=True, env={**child_env(), "COLUMNS": "250"}, timeout=30,
                           check=True).stdout
    assert hostname in table and r.request_id[:12] in table
