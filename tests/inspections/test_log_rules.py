"""The log rules' display names: every rule the agent, the checks and the simulated fleet use has one
in both languages, and event evidence says which kinds of events were counted by name, never by id."""

from __future__ import annotations

import re

import yaml

from agent.logs.rules import DEFAULT_PACK
from collector.simulator.events import _LineFactory
from inspections.checks.definition import EventCheckSpec
from inspections.checks.library import builtin_library
from inspections.log_rules import counts_text, log_rule_names, ranked, rule_name
from inspections.model import Evidence
from tests.inspections.scenario import Scenario

RULE_ID = re.compile(r"\b[a-z]+(?:_[a-z]+)*\.[a-z_]+\b")


def _check_rules() -> set[str]:
    out: set[str] = set()
    for check in builtin_library():
        spec = check.spec
        if isinstance(spec, EventCheckSpec):
            out |= set(spec.rules)
        else:
            out |= set(getattr(spec, "params", {}).get("rules", ()))
    return out


def test_every_rule_of_the_agents_built_in_pack_has_a_name_in_both_languages() -> None:
    pack = yaml.safe_load(DEFAULT_PACK.read_text(encoding="utf-8"))
    names = log_rule_names()
    missing = [r["id"] for r in pack["rules"] if r["id"] not in names]
    assert not missing, f"add these rules to inspections/log_rules.yaml: {missing}"
    for rule, name in names.items():
        assert set(name) == {"zh", "en"} and name["zh"].strip() and name["en"].strip(), rule
        assert re.search(r"[\u4e00-\u9fff]", name["zh"]), f"{rule}: the zh name has no Chinese"


def test_the_collectors_names_are_the_agents_own() -> None:
    """The engineer (the agent's pack) and the customer (the collector's table) read the same name."""
    pack = yaml.safe_load(DEFAULT_PACK.read_text(encoding="utf-8"))
    names = log_rule_names()
    differ = {r["id"]: (r["name"], names[r["id"]]) for r in pack["rules"]
              if "name" in r and r["id"] in names and dict(r["name"]) != dict(names[r["id"]])}
    assert not differ, differ


def test_every_rule_a_check_counts_or_the_simulator_writes_has_a_name() -> None:
    counted = _check_rules()
    assert {"disk.io_error", "kernel.oom_kill", "sshd.failed_password"} <= counted
    assert counted <= set(log_rule_names()), counted - set(log_rule_names())
    # The simulated fleet's rules: every one its line factory can write.
    written = set(re.findall(r'"([a-z_]+\.[a-z_]+)": self\._', _line_factory_source()))
    assert {"app.error", "disk.io_error", "kernel.oom_kill"} <= written
    assert written <= set(log_rule_names()), written - set(log_rule_names())


def _line_factory_source() -> str:
    import inspect

    return inspect.getsource(_LineFactory.make)


def test_counts_read_by_name_most_first_in_the_reports_language() -> None:
    counts = ranked({"kernel.oom_kill": 3, "disk.io_error": 12, "app.error": 0})
    assert counts == (("disk.io_error", 12), ("kernel.oom_kill", 3))
    zh = counts_text(counts, "zh")
    assert zh == f"磁盘 I/O 错误 12 次，{rule_name('kernel.oom_kill', 'zh')} 3 次"
    assert counts_text(counts, "en") == "Disk I/O error: 12; Process killed by the kernel OOM killer: 3"
    # A rule of a customer's own pack is summed with the others it does not know, not shown by id.
    assert counts_text((("acme.billing_failed", 2), ("acme.queue_full", 1)), "zh") == "其他日志事件 3 次"
    assert counts_text((("acme.billing_failed", 1_200),), "en") == "Other log events: 1,200"


def test_event_evidence_counts_per_rule_and_names_no_rule_id() -> None:
    s = (Scenario().event("disk.io_error", "critical", count=12).event("kernel.oom_kill", "critical", count=3)
         .event("app.error", "error", count=5, suppressed_before=1))
    [io] = s.run("logs.disk_io_errors")
    assert io.status == "critical" and io.observed == 12
    assert io.evidence.counts == (("disk.io_error", 12),)
    [rate] = s.run("logs.error_rate")
    assert rate.evidence.counts == (("disk.io_error", 12), ("app.error", 10), ("kernel.oom_kill", 3))
    for lang in ("zh", "en"):
        text = rate.evidence.counts_text(lang)
        assert text and not RULE_ID.search(text), text
    assert rate.evidence.counts_text("zh").startswith("磁盘 I/O 错误 12 次，应用程序错误 10 次")
    # Stored and read back (the findings table keeps the evidence as JSON).
    assert Evidence.from_dict(rate.evidence.to_dict()) == rate.evidence


def test_failed_login_evidence_counts_the_rules_it_reads() -> None:
    s = Scenario().event("sshd.failed_password", "warning", count=40).event("auth.failed", "warning", count=2)
    [finding] = s.run("security.failed_logins")
    assert finding.evidence.counts == (("sshd.failed_password", 40), ("auth.failed", 2))
    assert finding.evidence.counts_text("zh") == "SSH 密码登录失败 40 次，认证失败 2 次"
