"""The catalogue itself: coverage of the contract's items, texts in both languages."""

from __future__ import annotations

import re
from pathlib import Path

from inspections import CATEGORIES, CATEGORY_TITLES, builtin_library

CJK = re.compile(r"[\u4e00-\u9fff]")

# Issue 3 §1, item by item, and the check that covers it.
REQUIRED = {
    "heartbeat age": "device.heartbeat",
    "interface errors": "network.interface_errors",
    "interface drops": "network.interface_drops",
    "TCP reachability": "network.tcp_reachability",
    "NTP clock offset": "network.ntp_offset",
    "CPU": "resources.cpu_busy",
    "iowait": "resources.cpu_iowait",
    "load per core": "resources.load_per_core",
    "available memory": "resources.memory_available",
    "swap": "resources.swap_used",
    "disk space per mount": "resources.disk_space",
    "inodes per mount": "resources.disk_inodes",
    "file descriptors": "resources.file_descriptors",
    "processes": "app.processes",
    "ports": "app.ports",
    "HTTP endpoints": "app.http_endpoints",
    "systemd units": "app.systemd_units",
    "error and critical rates": "logs.error_rate",
    "OOM kills": "logs.oom_kills",
    "disk I/O errors": "logs.disk_io_errors",
    "segfaults": "logs.segfaults",
    "backup freshness": "security.backup_freshness",
    "backup size collapse": "security.backup_size",
    "failed-login bursts": "security.failed_logins",
    "TLS expiry": "security.tls_expiry",
    "reboot since last inspection": "security.reboots",
}


def test_issue_items_are_covered() -> None:
    ids = set(builtin_library().ids())
    missing = {item: check for item, check in REQUIRED.items() if check not in ids}
    assert not missing


def test_every_category_has_checks() -> None:
    assert {c.spec.category for c in builtin_library()} == set(CATEGORIES)


def test_texts_in_both_languages() -> None:
    for check in builtin_library():
        spec = check.spec
        for text in (spec.name, spec.description, spec.recommendation):
            assert CJK.search(text.zh), f"{spec.id}: zh text has no Chinese: {text.zh!r}"
            assert not CJK.search(text.en), f"{spec.id}: en text has Chinese: {text.en!r}"
        assert spec.unit
        assert spec.warn is not None or spec.crit is not None


def test_category_titles_are_the_contracts_words() -> None:
    assert [CATEGORY_TITLES[c]["zh"] for c in CATEGORIES] == [
        "设备和网络运行情况",
        "设备资源和利用率",
        "应用系统运行情况",
        "系统运行日志",
        "数据安全",
    ]


def test_catalogue_order_follows_categories() -> None:
    order = [CATEGORIES.index(c.spec.category) for c in builtin_library()]
    assert order == sorted(order)


def test_select_by_glob() -> None:
    library = builtin_library()
    assert [c.id for c in library.select(["logs.*"])] == [
        "logs.error_rate",
        "logs.oom_kills",
        "logs.disk_io_errors",
        "logs.segfaults",
    ]


def test_docs_list_every_check_with_its_levels() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "inspections.md").read_text(encoding="utf-8")
    for check in builtin_library():
        spec = check.spec
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{spec.id}` |")), None)
        assert row is not None, f"docs/inspections.md has no catalogue row for {spec.id}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        levels = ["—" if v is None else f"{v:g}" for v in (spec.warn, spec.crit)]
        assert cells[3:6] == [spec.direction, *levels], f"{spec.id}: docs say {cells[3:6]}"


def test_recommendations_say_what_to_do_without_operator_commands() -> None:
    from tests.reports.pdf_layout import COMMANDS

    found = {spec.id: COMMANDS.findall(text) for spec in (c.spec for c in builtin_library())
             for text in spec.recommendation.as_dict().values() if COMMANDS.search(text)}
    assert found == {}, "customers read these in their reports: describe the step, not the command"
