"""The agent's own YAML writer: whatever it writes, PyYAML reads back as the same data."""

from __future__ import annotations

import math

import pytest
import yaml

from agent.diagnostics import yamltext

TRICKY = ["", " ", "yes", "No", "on", "OFF", "true", "null", "~", "y", "1", "1.5", "0x1f", "1e3", "12:30", ".inf",
          ".5", "-", "- x", "a: b", "a #b", "#x", "x#y", "@at", "`tick", "'q'", '"dq"', "[1]", "{a: 1}", "&a",
          "*a", "!tag", "%x", "|", ">", "a\nb", "tab\there", "trailing ", " leading", "C:\\path", "中文",
          "2026-01-01", "2026-01-01T10:00:00Z", "<<", "=", "?", "a, b", "/var/log/*.log", "--password=x",
          "java .*-jar app\\.jar", "ping -c {count}", "\x00", "\u2028", "\x85", "\x7f", "\ud800", "\U0001f600"]


@pytest.mark.parametrize("text", TRICKY)
def test_strings_read_back_unchanged(text: str) -> None:
    assert yaml.safe_load(yamltext.dump({"k": text, text or "empty": [text]})) == {"k": text, text or "empty": [text]}


def test_nested_structures_and_scalars() -> None:
    data = {
        "spool": {"dir": "/var/lib/patrol-agent/spool", "max_bytes": 268435456, "max_age": 604800.0, "fsync": True},
        "tls": None,
        "labels": {},
        "ports": [22, 443],
        "empty": [],
        "http": [{"url": "https://h/", "timeout": None, "nested": [{"a": [1, [2, 3]]}, []]}, {}],
        "ratio": 0.1,
        "big": 1e300,
        "tiny": 1e-05,
        "neg": -5,
    }
    text = yamltext.dump(data)
    assert yaml.safe_load(text) == data
    assert "max_bytes: 268435456\n" in text and "fsync: true\n" in text and "tls: null\n" in text
    assert "ports:\n- 22\n- 443\n" in text  # block style, lists under a key as PyYAML writes them


def test_special_floats_and_top_level_scalars() -> None:
    loaded = yaml.safe_load(yamltext.dump({"a": math.inf, "b": -math.inf, "c": math.nan}))
    assert loaded["a"] == math.inf and loaded["b"] == -math.inf and math.isnan(loaded["c"])
    assert yaml.safe_load(yamltext.dump([])) == []
    assert yaml.safe_load(yamltext.dump({})) == {}
    assert yaml.safe_load(yamltext.dump("yes")) == "yes"
