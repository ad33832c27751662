"""The committed generated modules describe what the .proto describes today.

What is compared is what the modules mean — the file descriptor (messages, fields, enums, services,
methods) and the gRPC module's services and method paths — not the text a given grpcio-tools
release happens to print (it embeds its own version).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PROTO = Path("protos/patrol/v1/agent.proto")

# Run in a fresh interpreter whose first import path is the root given, so the modules generated
# there are the ones imported (one process cannot hold two versions of one descriptor).
DESCRIBE = """
import inspect, json, re, sys
from google.protobuf import descriptor_pb2, json_format
from protos.patrol.v1 import agent_pb2, agent_pb2_grpc
assert agent_pb2.__file__.startswith(sys.argv[1]) and agent_pb2_grpc.__file__.startswith(sys.argv[1])
fd = descriptor_pb2.FileDescriptorProto.FromString(agent_pb2.DESCRIPTOR.serialized_pb)
servicers = {name: sorted(m for m, _ in inspect.getmembers(cls, inspect.isfunction) if not m.startswith("_"))
             for name, cls in inspect.getmembers(agent_pb2_grpc, inspect.isclass) if name.endswith("Servicer")}
paths = sorted(set(re.findall(r"['\\"](/[\\w.]+/\\w+)['\\"]", inspect.getsource(agent_pb2_grpc))))
print(json.dumps({"descriptor": json_format.MessageToDict(fd), "servicers": servicers, "method_paths": paths}))
"""


def describe(root: Path) -> dict[str, Any]:
    """The descriptor and the gRPC services of the generated modules under ``root``."""
    out = subprocess.run([sys.executable, "-c", DESCRIBE, str(root)], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def generate(proto_text: str, root: Path) -> Path:
    """Generate the Python modules of ``proto_text`` as ``protos/patrol/v1`` under ``root``, as `make protos` does."""
    (root / PROTO.parent).mkdir(parents=True)
    for package in (Path("protos"), Path("protos/patrol"), PROTO.parent):
        (root / package / "__init__.py").touch()
    (root / PROTO).write_text(proto_text)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I.", "--python_out=.", "--pyi_out=.",
                    "--grpc_python_out=.", str(PROTO)], cwd=root, check=True)
    return root


def test_generated_modules_are_fresh(tmp_path: Path) -> None:
    fresh = describe(generate((REPO / PROTO).read_text(), tmp_path))
    committed = describe(REPO)
    assert fresh["servicers"] == {"AgentServiceServicer": ["Connect"]}  # the comparison sees the service
    assert committed == fresh, "protos/patrol/v1 is stale: run `make protos` and commit the result"


def test_a_proto_edited_without_regenerating_is_caught(tmp_path: Path) -> None:
    proto = (REPO / PROTO).read_text()
    edited = proto.replace("message Heartbeat {", "message Heartbeat {\n  string mood = 99;", 1).replace(
        "service AgentService {", "service AgentService {\n  rpc Ping(Heartbeat) returns (Heartbeat);", 1)
    assert edited.count("mood") == 1 and edited.count("rpc Ping") == 1
    fresh = describe(generate(edited, tmp_path))
    committed = describe(REPO)
    assert fresh["descriptor"] != committed["descriptor"]
    heartbeat = next(m for m in fresh["descriptor"]["messageType"] if m["name"] == "Heartbeat")
    assert "mood" in [f["name"] for f in heartbeat["field"]]
    assert fresh["servicers"] == {"AgentServiceServicer": ["Connect", "Ping"]}
    assert fresh["method_paths"] != committed["method_paths"]
    assert "/patrol.v1.AgentService/Ping" in fresh["method_paths"]


def test_roundtrip_of_a_series_batch() -> None:
    from protos.patrol.v1 import agent_pb2 as pb

    msg = pb.AgentMessage(samples=pb.Samples(seq=7, series=[
        pb.Series(name="disk.used_percent", labels={"mount": "/"}, timestamps_ms=[1, 2], values=[1.5, 2.5])]))
    back = pb.AgentMessage.FromString(msg.SerializeToString())
    assert back.samples.seq == 7
    assert list(back.samples.series[0].values) == [1.5, 2.5]
    assert back.samples.series[0].labels["mount"] == "/"
