"""The committed generated modules match what grpc_tools makes from the .proto today."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GENERATED = ("agent_pb2.py", "agent_pb2.pyi", "agent_pb2_grpc.py")


def test_generated_modules_are_fresh(tmp_path: Path) -> None:
    (tmp_path / "protos/patrol/v1").mkdir(parents=True)
    shutil.copy(REPO / "protos/patrol/v1/agent.proto", tmp_path / "protos/patrol/v1/agent.proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I.", "--python_out=.", "--pyi_out=.",
                    "--grpc_python_out=.", "protos/patrol/v1/agent.proto"], cwd=tmp_path, check=True)
    for name in GENERATED:
        fresh = (tmp_path / "protos/patrol/v1" / name).read_text()
        committed = (REPO / "protos/patrol/v1" / name).read_text()
        assert fresh == committed, f"protos/patrol/v1/{name} is stale: run `make protos` and commit the result"


def test_roundtrip_of_a_series_batch() -> None:
    from protos.patrol.v1 import agent_pb2 as pb

    msg = pb.AgentMessage(samples=pb.Samples(seq=7, series=[
        pb.Series(name="disk.used_percent", labels={"mount": "/"}, timestamps_ms=[1, 2], values=[1.5, 2.5])]))
    back = pb.AgentMessage.FromString(msg.SerializeToString())
    assert back.samples.seq == 7
    assert list(back.samples.series[0].values) == [1.5, 2.5]
    assert back.samples.series[0].labels["mount"] == "/"
