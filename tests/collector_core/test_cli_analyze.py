"""`patrol analyze forecast|anomalies|logs` as a user runs them."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.localrun import child_env


def patrol(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", *args],
                          capture_output=True, text=True, env=child_env(), timeout=120)


def linear_csv(path: Path, days: int = 6, start_pct: float = 40.0, per_day: float = 5.0) -> datetime:
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    with path.open("w") as f:
        f.write("timestamp,value\n")
        for i in range(days * 24 * 4):
            t = t0 + timedelta(minutes=15 * i)
            f.write(f"{t.isoformat()},{start_pct + per_day * i / 96:.4f}\n")
    return t0


def test_forecast_command_predicts_the_crossing(tmp_path: Path) -> None:
    t0 = linear_csv(tmp_path / "disk.csv")  # 40 % + 5 %/day: crosses 100 % after 12 days
    out = patrol("analyze", "forecast", str(tmp_path / "disk.csv"), "--limit", "100", "--every", "6h",
                 "--horizon", "7d")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == ["timestamp", "eta", "eta_low", "eta_high", "alert"]
    last = rows[-1]
    eta = datetime.fromisoformat(last["eta"])
    assert abs((eta - (t0 + timedelta(days=12))).total_seconds()) < 6 * 3600
    assert datetime.fromisoformat(last["eta_low"]) <= eta <= datetime.fromisoformat(last["eta_high"])
    assert last["alert"] == "1"  # 6 days left at the end, inside the 7-day horizon
    assert rows[0]["eta"] == ""  # too little history at the start: no claim


def test_anomalies_command_one_row_per_input_row(tmp_path: Path) -> None:
    linear_csv(tmp_path / "s.csv", days=10)
    lines = (tmp_path / "s.csv").read_text().splitlines()
    lines[800] = lines[800].split(",")[0] + ",400"  # an obvious spike, past the detector's warm-up
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    out = patrol("analyze", "anomalies", str(tmp_path / "s.csv"))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == len(lines) - 1
    scores = [float(r["anomaly_score"]) for r in rows]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[799] >= 0.35 and sorted(scores)[len(scores) // 2] < 0.1  # 0.35: the alarm level


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-10-01T00:00:00Z,1\nyesterday,2\n")
    out = patrol("analyze", "anomalies", str(bad))
    assert out.returncode == 2
    assert str(bad) in out.stderr and "line 3" in out.stderr
    out = patrol("analyze", "forecast", str(bad), "--limit", "1", "--direction", "sideways")
    assert out.returncode == 2 and "--direction" in out.stderr
