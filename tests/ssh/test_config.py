"""The ``ssh:`` section: defaults, path resolution and errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.configfile import ConfigError
from collector.config import load_collector_config
from collector.ssh.config import SshConfig


@pytest.fixture
def confdir(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "id_ed25519").write_text("not parsed at load time\n")
    (tmp_path / "keys" / "known_hosts").write_text("")
    return tmp_path


def write(confdir: Path, ssh: dict[str, Any]) -> Path:
    path = confdir / "collector.yaml"
    path.write_text(yaml.safe_dump({"insecure": True, "data_dir": "data", "customers": [{"id": "acme", "name": "A"}],
                                    "ssh": ssh}))
    return path


def target(**fields: Any) -> dict[str, Any]:
    return {"host_id": "db-01", "customer": "acme", "address": "10.0.0.5", "user": "patrol", **fields}


DEFAULTS = {"key_file": "keys/id_ed25519", "known_hosts": "keys/known_hosts"}


def test_defaults_and_relative_paths(confdir: Path) -> None:
    cfg = load_collector_config(write(confdir, {"defaults": {**DEFAULTS, "interval": "5m"},
                                                "targets": [target(), target(host_id="db-02", interval=30)]}))
    ssh: SshConfig = cfg.section("ssh")
    first, second = ssh.targets
    assert first.key_file == (confdir / "keys" / "id_ed25519").resolve()
    assert first.known_hosts == (confdir / "keys" / "known_hosts").resolve()
    assert (first.interval, second.interval) == (300.0, 30.0)  # a target's own value wins
    assert first.strict_known_hosts is True and first.port == 22
    assert first.endpoint == "10.0.0.5:22"
    assert ssh.target("db-02") is second


@pytest.mark.parametrize(("ssh", "field", "words"), [
    ({"defaults": DEFAULTS, "targets": [target(port=70000)]}, "ssh.targets.0.port", "less than or equal"),
    ({"defaults": DEFAULTS, "targets": [target(user=None)]}, "ssh.targets.0.user", "valid string"),
    ({"defaults": DEFAULTS, "targets": [target(user="root; rm -rf /")]}, "ssh.targets.0.user", "login name"),
    ({"defaults": DEFAULTS, "targets": [target(address="-oProxyCommand=x")]}, "ssh.targets.0.address",
     "host name or IP"),
    ({"defaults": DEFAULTS, "targets": [target(host_id="bad id")]}, "ssh.targets.0.host_id", "letters, digits"),
    ({"defaults": DEFAULTS, "targets": [target(interval="soon")]}, "ssh.targets.0.interval", "duration"),
    ({"defaults": DEFAULTS, "targets": [target(pasword="x")]}, "ssh.targets.0.pasword", "unknown field"),
    ({"defaults": DEFAULTS, "targets": [target(key_passphrase_env="s3cret pass")]},
     "ssh.targets.0.key_passphrase_env", "environment variable name"),
    ({"defaults": DEFAULTS, "targets": [target(du_paths=["/var/../etc"])]}, "ssh.targets.0.du_paths",
     "normalised path"),
    ({"defaults": {**DEFAULTS, "key_file": "keys/missing"}, "targets": [target()]}, "ssh.targets.0",
     "key_file"),
    ({"defaults": {**DEFAULTS, "known_hosts": "keys/nope"}, "targets": [target()]}, "ssh.targets.0",
     "ssh-keyscan"),
    ({"defaults": {**DEFAULTS, "colour": "red"}, "targets": [target()]}, "ssh.defaults", "colour"),
    ({"defaults": DEFAULTS, "targets": [target(), target()]}, "ssh", "used by an earlier target"),
])
def test_errors_name_the_field(confdir: Path, ssh: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_collector_config(write(confdir, ssh))
    text = str(err.value)
    assert str(confdir / "collector.yaml") in text
    line = next((ln for ln in text.splitlines() if ln.strip().startswith(f"field {field}")), None)
    assert line is not None, text
    assert words in line, text


def test_non_strict_allows_a_missing_known_hosts(confdir: Path) -> None:
    cfg = load_collector_config(write(confdir, {"defaults": {**DEFAULTS, "known_hosts": "keys/new_known_hosts"},
                                                "targets": [target(strict_known_hosts=False)]}))
    assert not cfg.section("ssh").targets[0].known_hosts.exists()
