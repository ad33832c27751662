"""Customer overrides: thresholds by specificity, disabled checks and subjects, expectations."""

from __future__ import annotations

from inspections import HostInfo, Threshold, builtin_library, parse_overrides_text
from tests.inspections.scenario import Scenario


def _disks(s: Scenario, used: float = 93.0) -> Scenario:
    for mount in ("/", "/data"):
        s.series("disk.used_percent", used, {"mount": mount, "fstype": "ext4"})
    return s


def _statuses(s: Scenario, check_id: str) -> dict[str, str]:
    return {f.subject: f.status for f in s.run(check_id)}


def test_check_level_threshold_override_changes_the_verdict() -> None:
    s = _disks(Scenario())
    assert _statuses(s, "resources.disk_space") == {"/": "warning", "/data": "warning"}
    s.expect("checks:\n  - {check: resources.disk_space, warn: 94, crit: 99}")
    findings = s.run("resources.disk_space")
    assert {f.status for f in findings} == {"ok"}
    assert findings[0].threshold.warn == 94 and findings[0].threshold.crit == 99


def test_most_specific_rule_wins_per_field() -> None:
    rules = """
checks:
  - {check: resources.disk_space, warn: 95, crit: 99}
  - {check: resources.disk_space, subjects: [/data], warn: 90}
  - {check: resources.disk_space, hosts: [web-*], subjects: [/data], crit: 92}
"""
    web = _disks(Scenario()).expect(rules)
    assert _statuses(web, "resources.disk_space") == {"/": "ok", "/data": "critical"}
    db = _disks(Scenario().host_with(host_id="h2", hostname="db-01")).expect(rules)
    assert _statuses(db, "resources.disk_space") == {"/": "ok", "/data": "warning"}
    # The host rule only set crit: warn still comes from the subject rule.
    data_finding = next(f for f in web.run("resources.disk_space") if f.subject == "/data")
    assert (data_finding.threshold.warn, data_finding.threshold.crit) == (90, 92)


def test_later_rule_wins_among_equally_specific_ones() -> None:
    s = _disks(Scenario()).expect(
        "checks:\n  - {check: resources.disk_space, warn: 90}\n  - {check: resources.disk_space, warn: 80}"
    )
    assert {f.threshold.warn for f in s.run("resources.disk_space")} == {80}


def test_hosts_match_by_id_hostname_glob_and_labels() -> None:
    overrides = parse_overrides_text(
        "checks:\n  - {check: resources.cpu_busy, host_labels: {role: db}, warn: 50}\n"
        "  - {check: resources.cpu_busy, hosts: [h-7], crit: 90}\n"
        "  - {check: resources.cpu_busy, hosts: ['app-*'], crit: 99}"
    )
    check = builtin_library().get("resources.cpu_busy")
    db = HostInfo("h-1", "db-01", "acme", None, labels={"role": "db"})
    web = HostInfo("h-7", "web-01", "acme", None, labels={"role": "web"})
    app = HostInfo("h-9", "app-03", "acme", None)
    other = HostInfo("h-10", "mail-01", "acme", None)
    assert overrides.for_host(db).threshold(check, "") == Threshold(50, 95, "above")
    assert overrides.for_host(web).threshold(check, "") == Threshold(85, 90, "above")
    assert overrides.for_host(app).threshold(check, "") == Threshold(85, 99, "above")
    assert overrides.for_host(other).threshold(check, "") == check.spec.threshold


def test_disable_check_records_skip() -> None:
    s = Scenario().series("cpu.busy_percent", 99).expect("checks:\n  - {check: resources.cpu_busy, enabled: false}")
    result = s.result("resources.cpu_busy")
    assert result.hosts[0].findings == []
    assert [(k.check_id, k.reason) for k in result.hosts[0].skipped] == [
        ("resources.cpu_busy", "disabled by the customer's overrides")
    ]


def test_disable_only_for_some_hosts() -> None:
    rules = "checks:\n  - {check: resources.cpu_busy, hosts: [db-*], enabled: false}"
    web = Scenario().series("cpu.busy_percent", 99).expect(rules)
    assert [f.status for f in web.run("resources.cpu_busy")] == ["critical"]
    db = Scenario().host_with(hostname="db-01").series("cpu.busy_percent", 99).expect(rules)
    assert db.run("resources.cpu_busy") == []


def test_disable_one_subject() -> None:
    s = _disks(Scenario(), used=97).expect(
        "checks:\n  - {check: resources.disk_space, subjects: [/data], enabled: false}"
    )
    assert _statuses(s, "resources.disk_space") == {"/": "critical"}
    assert any("'/data' disabled" in k.reason for k in s.result("resources.disk_space").hosts[0].skipped)


def test_expected_process_by_command_line_and_min_count() -> None:
    s = Scenario().series("probe.process_count", 1.0, {"name": "java -jar app.jar"})
    s.expect("expect:\n  processes: [{name: app, cmdline: 'java -jar app.jar', min_count: 2}]")
    findings = s.run("app.processes")
    assert [(f.subject, f.status) for f in findings] == [("app", "critical")]
    assert findings[0].note and "at least 2" in findings[0].note["en"]
    assert findings[0].evidence.series[0].labels == {"name": "java -jar app.jar"}


def test_probed_but_not_expected_subjects_are_still_checked() -> None:
    s = Scenario().series("probe.port_listening", 0.0, {"port": "8080"})
    assert [(f.subject, f.status) for f in s.run("app.ports")] == [("8080", "critical")]


def test_expectations_scoped_to_hosts() -> None:
    expect = "expect:\n  ports: [22, {port: 5432, hosts: [db-*]}]"
    web = Scenario().series("probe.port_listening", 1.0, {"port": "22"}).expect(expect)
    assert [(f.subject, f.status) for f in web.run("app.ports")] == [("22", "ok")]
    db = Scenario().host_with(hostname="db-01").series("probe.port_listening", 1.0, {"port": "22"}).expect(expect)
    assert sorted((f.subject, f.status) for f in db.run("app.ports")) == [("22", "ok"), ("5432", "unknown")]


def test_http_expected_status_and_default_2xx() -> None:
    url = {"url": "https://shop.example.com/"}
    redirect = Scenario().series("probe.http_up", 1.0, url).latest("probe.http_status", 302, url)
    assert [f.status for f in redirect.run("app.http_endpoints")] == ["ok"]
    strict = (
        Scenario()
        .series("probe.http_up", 1.0, url)
        .latest("probe.http_status", 302, url)
        .expect("expect:\n  http: [{url: 'https://shop.example.com/', status: 200}]")
    )
    finding = strict.run("app.http_endpoints")[0]
    assert finding.status == "critical"
    assert finding.note is not None and "status 302, expected 200" in finding.note["en"]


def test_systemd_unit_names_match_with_or_without_suffix() -> None:
    s = (
        Scenario()
        .series("probe.systemd_unit_active", 1.0, {"unit": "nginx.service"})
        .expect("expect:\n  systemd_units: [nginx]")
    )
    assert [(f.subject, f.status) for f in s.run("app.systemd_units")] == [("nginx", "ok")]


def test_systemd_not_applicable_on_windows() -> None:
    s = Scenario().host_with(facts={"os": "Windows Server 2019"}).expect("expect:\n  systemd_units: [nginx]")
    result = s.result("app.systemd_units")
    assert result.hosts[0].findings == []
    assert "systemd" in result.hosts[0].skipped[0].reason


def test_overrides_per_customer_mapping() -> None:
    from inspections import MemoryData, load_profile, run_inspection
    from tests.inspections.scenario import NOW

    data = MemoryData()
    hosts = [HostInfo("a", "a", "acme", NOW), HostInfo("b", "b", "beta", NOW)]
    for host in hosts:
        data.record(host.host_id, "cpu.busy_percent", None, [(NOW.replace(hour=1), 90.0)])
    overrides = {"acme": parse_overrides_text("checks:\n  - {check: resources.cpu_busy, warn: 95}")}
    profile = load_profile("monthly")
    result = run_inspection(data, hosts, profile, overrides=overrides, now=NOW)
    cpu = {f.host_id: f.status for f in result.findings() if f.check_id == "resources.cpu_busy"}
    assert cpu == {"a": "ok", "b": "warning"}
