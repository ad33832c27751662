"""Offline analysis (``patrol analyze logs``) on the real sample logs and on made-up packs."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from agent.logs.analyze import analyze_file
from tests.agent_logs.helpers import LINUX_LOG, OPENSSH_LOG, expected_linux, expected_openssh


def run(path: Path, rules: Path | None = None, events: bool = False, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = analyze_file(path, rules, events, out, err=err, **kw)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_csv_counts_per_rule_on_the_openssh_sample(openssh_lines: list[str]) -> None:
    code, out, err = run(OPENSSH_LOG)
    assert code == 0 and err == ""
    rows = out.splitlines()
    assert rows[0] == "rule_id,count"
    want = Counter(r for r in map(expected_openssh, openssh_lines) if r is not None)
    assert rows[1:] == [f"{rule},{want[rule]}" for rule in sorted(want)]


def test_csv_counts_per_rule_on_the_linux_sample(linux_lines: list[str]) -> None:
    code, out, _ = run(LINUX_LOG)
    want = Counter(r for r in map(expected_linux, linux_lines) if r is not None)
    assert code == 0
    assert out.splitlines() == ["rule_id,count"] + [f"{rule},{want[rule]}" for rule in sorted(want)]


def test_events_are_json_lines_with_the_original_lines(openssh_lines: list[str]) -> None:
    code, out, _ = run(OPENSSH_LOG, events=True)
    assert code == 0
    records = [json.loads(x) for x in out.splitlines()]
    failures = [line for line in openssh_lines if expected_openssh(line) is not None]
    assert [r["line"] for r in records] == failures  # unchanged, in file order
    assert [r["rule"] for r in records] == [expected_openssh(line) for line in failures]
    assert records[-1]["line"] == openssh_lines[-1]  # the file's last line has no newline; still read
    for r in records:
        assert r["severity"] in ("info", "warning", "error", "critical")
        assert r["source"] == str(OPENSSH_LOG)
        assert isinstance(r["fields"], dict)
        stamp = datetime.fromisoformat(r["timestamp"])
        assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert r["timestamp"].endswith("Z")
    assert records[0]["timestamp"][5:] == "12-10T06:55:46Z"


def test_syslog_year_is_taken_from_the_file_time(tmp_path: Path, openssh_lines: list[str]) -> None:
    copy = tmp_path / "auth.log"
    shutil.copyfile(OPENSSH_LOG, copy)
    january = datetime(2025, 1, 15, tzinfo=UTC).timestamp()
    os.utime(copy, (january, january))
    _, out, _ = run(copy, events=True)
    first = json.loads(out.splitlines()[0])
    assert first["timestamp"] == "2024-12-10T06:55:46Z"  # December before the file was written


def test_own_pack_replaces_the_default_one(tmp_path: Path, openssh_lines: list[str]) -> None:
    pack = tmp_path / "site.yaml"
    pack.write_text(
        "rules:\n"
        "  - id: site.bye\n"
        "    name: {zh: 断开, en: Disconnect}\n"
        "    severity: info\n"
        "    match: {regex: 'Received disconnect from (?P<rhost>[\\d.]+)'}\n"
    )
    code, out, _ = run(OPENSSH_LOG, rules=pack)
    bye = sum("Received disconnect from" in line for line in openssh_lines)
    assert code == 0
    assert out.splitlines() == ["rule_id,count", f"site.bye,{bye}"]
    code, out, _ = run(OPENSSH_LOG, rules=pack, with_default=True)
    # The default pack's authentication rules are tried first and claim the disconnects that report
    # a refused login; the site rule keeps the ordinary goodbyes.
    refused = sum("No more user authentication methods" in line or ": Auth fail" in line for line in openssh_lines)
    assert refused == 47
    assert f"site.bye,{bye - refused}" in out.splitlines() and "sshd.failed_password,520" in out.splitlines()


def test_bad_pack_and_missing_file_exit_2_with_a_message(tmp_path: Path, openssh_lines: list[str]) -> None:
    pack = tmp_path / "bad.yaml"
    pack.write_text("rules:\n  - id: x.y\n    name: {zh: a, en: b}\n    severity: loud\n    match: {contains: z}\n")
    code, out, err = run(OPENSSH_LOG, rules=pack)
    assert code == 2 and out == ""
    assert str(pack) in err and "rule 'x.y'" in err and "'severity'" in err
    code, _, err = run(tmp_path / "missing.log")
    assert code == 2 and "missing.log" in err


def test_no_rate_limiting_offline(tmp_path: Path) -> None:
    log = tmp_path / "flood.log"
    log.write_text("Mar  1 10:00:00 h sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2\n" * 5000)
    _, out, _ = run(log)
    assert out.splitlines() == ["rule_id,count", "sshd.failed_password,5000"]


def test_multiline_groups_and_special_file_names(tmp_path: Path) -> None:
    log = tmp_path / "app [1].log"  # glob characters in the name
    log.write_text("ERROR boom\nTraceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'k'\nINFO ok\n")
    _, out, _ = run(log, events=True)
    (record,) = [json.loads(x) for x in out.splitlines()]
    assert record["rule"] == "generic.error"
    assert record["line"].splitlines() == [
        "ERROR boom",
        "Traceback (most recent call last):",
        '  File "x", line 1',
        "KeyError: 'k'",
    ]
