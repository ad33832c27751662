from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from agent.config import AgentConfig, load_agent_config
from agent.configfile import ConfigError, format_validation_error
from agent.probes.config import ProbesConfig


def probes(**raw: object) -> ProbesConfig:
    return ProbesConfig.model_validate(raw)


def error_of(**raw: object) -> str:
    """What the operator is told about ``raw`` as the probes section."""
    with pytest.raises(ValidationError) as err:
        ProbesConfig.model_validate(raw)
    return format_validation_error("agent.yaml", err.value)


def test_defaults_configure_nothing_and_the_documented_intervals() -> None:
    cfg = ProbesConfig()
    assert (cfg.processes, cfg.ports, cfg.http, cfg.tcp, cfg.tls, cfg.backups, cfg.systemd_units) == ([],) * 7
    assert cfg.ntp.server is None and cfg.ntp.port == 123
    assert cfg.timeout == 5.0
    i = cfg.intervals
    assert (i.processes, i.ports, i.http, i.tcp, i.systemd_units) == (60.0,) * 5
    assert (i.tls, i.backups, i.ntp) == (3600.0, 900.0, 300.0)


def test_shorthands_and_labels() -> None:
    cfg = probes(
        processes=["nginx", {"cmdline": r"java .*-jar app\.jar"}, {"pattern": "^post(gres|master)$"}],
        http=["http://127.0.0.1:8080/health"],
        tls=["/etc/ssl/site.pem", "shop.example.com:443", {"endpoint": "[::1]:8443", "server_name": "shop"}],
        backups=["/backup/db/", {"path": "/backup/files", "glob": "*.tar.gz", "recursive": True}],
        intervals={"tls": "2h", "backups": "30m"},
    )
    assert [p.label for p in cfg.processes] == ["nginx", r"java .*-jar app\.jar", "^post(gres|master)$"]
    assert cfg.http[0].expect_status == 200 and cfg.http[0].timeout is None
    assert [t.label for t in cfg.tls] == ["/etc/ssl/site.pem", "shop.example.com:443", "[::1]:8443"]
    assert [b.label for b in cfg.backups] == ["/backup/db", "/backup/files"]  # trailing slash normalised
    assert cfg.backups[0].glob == "*" and not cfg.backups[0].recursive
    assert cfg.intervals.tls == 7200.0 and cfg.intervals.backups == 1800.0


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"processes": [{}]}, "give a process name, a name pattern or a cmdline pattern"),
        ({"processes": [{"name": "x", "cmdline": "java ("}]}, "not a valid regular expression"),
        ({"processes": [{"name": "x", "user": "root"}]}, "field processes.0.user: unknown field"),
        ({"ports": [0]}, "greater than or equal to 1"),
        ({"ports": [70000]}, "less than or equal to 65535"),
        ({"ports": [True]}, "expected a number, got True"),
        ({"http": ["ftp://host/x"]}, "expected an http:// or https:// URL with a host"),
        ({"http": ["http://host:99999/"]}, "is not a number from 1 to 65535"),
        ({"http": [{"url": "http://h/", "insecure": True}]}, "only apply to https:// URLs"),
        ({"http": [{"url": "https://h/", "insecure": True, "ca_file": "/ca.pem"}]}, "not both"),
        ({"http": [{"url": "https://h/", "expect_status": 99}]}, "greater than or equal to 100"),
        ({"http": [{"url": "https://h/", "timeout": "2m"}]}, "less than or equal to 60"),
        ({"tcp": ["db.internal"]}, "expected host:port"),
        ({"tcp": ["::1:443"]}, "write IPv6 addresses in brackets"),
        ({"tcp": ["[db]:443"]}, "is not an IPv6 address"),
        ({"tls": [{"file": "/a.pem", "endpoint": "h:443"}]}, "exactly one of file"),
        ({"tls": [{}]}, "exactly one of file"),
        ({"tls": [{"file": "/a.pem", "server_name": "x"}]}, "only apply to an endpoint"),
        ({"tls": ["example.com"]}, "expected host:port"),
        ({"backups": [{"path": "/b", "glob": "sub/*.gz"}]}, "use recursive: true"),
        ({"backups": ["relative/dir"]}, "expected an absolute path"),
        ({"ntp": {"server": "pool.ntp.org:123"}}, "give the port in ntp.port"),
        ({"systemd_units": ["my unit"]}, "expected a systemd unit name"),
        ({"intervals": {"tls": "26h"}}, "at most 90000 s"),
        ({"intervals": {"backups": "4h"}}, "at most 10800 s"),
        ({"intervals": {"http": "31m"}}, "at most 1800 s"),
        ({"intervals": {"htp": 60}}, "field intervals.htp: unknown field"),
        ({"timeout": 0}, "greater than 0"),
    ],
)
def test_invalid_entries_say_what_is_wrong(raw: dict[str, object], fragment: str) -> None:
    assert fragment in error_of(**raw)


def test_duplicate_labels_are_rejected_per_list() -> None:
    message = error_of(
        ports=[22, 22, 443],
        processes=["nginx", {"name": "nginx", "cmdline": "nginx: master"}],
        backups=["/b", {"path": "/b/", "glob": "*.gz"}],
        tls=["/a.pem", {"file": "/a.pem"}],
        tcp=["h:1", "h:2"],
    )
    assert "ports: '22' listed more than once" in message
    assert "processes: 'nginx'" in message
    assert "backups: '/b'" in message
    assert "tls: '/a.pem'" in message
    assert "tcp:" not in message  # the same host on two ports is two targets


def test_agent_yaml_probes_section(tmp_path: Path) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    path = config_dir / "agent.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "customer": "acme",
                "collector": "collector.example:7443",
                "probes": {
                    "ports": [22],
                    "http": [{"url": "https://127.0.0.1/health", "ca_file": "ca.pem"}],
                    "tls": ["./certs/site.pem"],
                    "backups": [{"path": "backups"}],
                },
            }
        )
    )
    cfg = load_agent_config(path)
    # Relative paths are resolved against the directory of agent.yaml, as the spool dir is.
    assert cfg.probes.http[0].ca_file == config_dir / "ca.pem"
    assert cfg.probes.tls[0].label == str(config_dir / "certs" / "site.pem")
    assert cfg.probes.backups[0].label == str(config_dir / "backups")
    assert AgentConfig.model_validate({"customer": "a", "collector": "h:1"}).probes == ProbesConfig()


def test_agent_yaml_errors_name_the_probe_field(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("customer: acme\ncollector: c:1\nprobes:\n  tcp: ['db.internal']\n  prots: [22]\n")
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    message = str(err.value)
    assert "field probes.tcp.0" in message and "expected host:port" in message
    assert "field probes.prots: unknown field" in message
