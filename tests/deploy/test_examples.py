"""The shipped example configurations validate, the systemd units are hardened, and the scaled-out
references (docker compose, Kubernetes) are consistent with the collector's configuration."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import load_agent_config
from collector.collector_id import collector_id_for
from collector.config import CollectorConfig, load_collector_config
from collector.diagnostics.signing import PRIVATE_NAME, PUBLIC_NAME

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_example_configs_validate() -> None:
    agent = load_agent_config(DEPLOY / "examples/agent.yaml")
    assert agent.tls is not None and not agent.insecure
    collector = load_collector_config(DEPLOY / "examples/collector.yaml")
    assert collector.tls is not None and collector.tls.client_ca is not None
    assert {c.id for c in collector.customers} == {"acme", "globex"}


def test_units_are_hardened() -> None:
    for unit in (DEPLOY / "systemd").glob("*.service"):
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.optionxform = str  # type: ignore[assignment,method-assign]
        cp.read(unit)
        svc = cp["Service"]
        assert svc["User"] not in ("", "root"), unit.name
        assert svc["NoNewPrivileges"] == "yes", unit.name
        assert svc["ProtectSystem"] == "strict", unit.name
        assert "check-config" in svc["ExecStartPre"], unit.name


# --------------------------------------------------------------------------- scaled-out group

COMPOSE = DEPLOY / "docker-compose"
K8S = DEPLOY / "kubernetes"
ENTRYPOINT = COMPOSE / "docker-entrypoint.sh"


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def _enroll_port(cfg: CollectorConfig) -> int:
    assert cfg.tls is not None and cfg.tls.pki.enroll_listen is not None, "agents enroll through the group"
    return _port(cfg.tls.pki.enroll_listen)


def _shared_paths(cfg: CollectorConfig) -> list[Path]:
    """Every file the members of a group must share, as the configuration names them."""
    assert cfg.tls is not None
    ca_cert, ca_key = cfg.tls.pki.ca_paths(cfg.data_dir)
    key_dir = cfg.section("diagnostics").key_dir
    assert key_dir is not None, "a group needs diagnostics.key_dir outside the members' data_dir"
    paths = [Path(cfg.tls.cert), Path(cfg.tls.key), ca_cert, ca_key, key_dir / PRIVATE_NAME, key_dir / PUBLIC_NAME]
    if cfg.tls.client_ca is not None:
        paths.append(Path(cfg.tls.client_ca))
    return paths


def _assert_group_config(cfg: CollectorConfig) -> None:
    assert cfg.store_url().startswith("postgresql"), "a group needs a shared PostgreSQL store"
    assert cfg.tls is not None and cfg.tls.client_ca is not None
    for path in _shared_paths(cfg):
        assert not path.is_relative_to(cfg.data_dir), f"{path} is per member (under data_dir), must be shared"
    host, _, _ = cfg.api.listen.rpartition(":")
    assert host not in ("127.0.0.1", "localhost", "::1"), "the load balancer's health check must reach the API"
    assert cfg.cluster.lease_ttl >= 3 * cfg.cluster.heartbeat


def test_group_example_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATROL_INFLUX_TOKEN", "example-token")
    path = DEPLOY / "examples/collector-group.yaml"
    cfg = load_collector_config(path)
    _assert_group_config(cfg)
    assert "cluster" in yaml.safe_load(path.read_text(encoding="utf-8")), "the example shows the cluster section"
    assert cfg.collector_id, "the systemd example sets each member's id"
    assert cfg.section("export").influx is not None
    single = load_collector_config(DEPLOY / "examples/collector.yaml")
    assert [c.model_dump() for c in cfg.customers] == [c.model_dump() for c in single.customers]


def _yaml_files() -> list[Path]:
    return sorted(p for d in (COMPOSE, K8S) for p in d.rglob("*") if p.suffix in (".yml", ".yaml"))


def test_every_reference_yaml_parses() -> None:
    files = _yaml_files()
    assert {p.name for p in files} >= {"docker-compose.yml", "collector.yaml", "kustomization.yaml",
                                       "statefulset.yaml", "configmap.yaml", "migrate-job.yaml"}
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        assert docs and all(isinstance(d, dict) for d in docs), path


# --------------------------------------------------------------------------- docker compose


def _compose() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE / "docker-compose.yml").read_text(encoding="utf-8"))


def _collector_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items()
            if "PATROL_COLLECTOR_ID" in svc.get("environment", {})}


def _mounts(svc: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (source, read-only) of a service's short-syntax volumes."""
    out = {}
    for v in svc.get("volumes", []):
        source, target, *mode = v.split(":")
        out[target] = (source, mode == ["ro"])
    return out


def test_compose_collector_config_validates() -> None:
    cfg = load_collector_config(COMPOSE / "collector.yaml")
    _assert_group_config(cfg)
    assert cfg.collector_id is None, "one file for every member: the id comes from each member's volume"


def test_compose_runs_a_group_after_migrate() -> None:
    compose = _compose()
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["haproxy"]["image"].startswith("haproxy:")
    migrate = services["migrate"]
    assert migrate["command"][-1] == "migrate" and "patrol-collector" in migrate["command"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"

    cfg = load_collector_config(COMPOSE / "collector.yaml")
    collectors = _collector_services(compose)
    assert len(collectors) == 2
    ids = {svc["environment"]["PATROL_COLLECTOR_ID"] for svc in collectors.values()}
    assert ids == set(collectors), "each member's id is its service name (HAProxy and logs use it)"
    data_volumes = set()
    for name, svc in collectors.items():
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy", name
        mounts = _mounts(svc)
        assert mounts["/etc/patrol/collector.yaml"] == ("./collector.yaml", True), name
        source, read_only = mounts[str(cfg.data_dir)]
        assert not read_only and source in compose["volumes"], name
        data_volumes.add(source)
        assert svc["environment"].get("PATROL_DATA_DIR", str(cfg.data_dir)) == str(cfg.data_dir)
        shared = [target for target, (src, ro) in mounts.items() if src == "patrol-shared"]
        assert shared and mounts[shared[0]][1], f"{name} mounts the shared keys read-only"
        for path in _shared_paths(cfg):
            assert path.is_relative_to(shared[0]), f"{path} is not in the shared volume of {name}"
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
    assert len(data_volumes) == 2, "each member needs a data volume of its own"
    # Passwords only through secrets: no literal password in any service's environment.
    for name, svc in services.items():
        for key, value in (svc.get("environment") or {}).items():
            if "PASSWORD" in key or "TOKEN" in key:
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), (name, key)


def test_compose_image_is_built_from_this_repository() -> None:
    compose = _compose()
    build = compose["services"]["collector-1"]["build"]
    assert (COMPOSE / build["context"]).resolve() == DEPLOY.parent
    dockerfile = (COMPOSE / build["context"] / build["dockerfile"]).resolve()
    lines = [ln.strip() for ln in dockerfile.read_text(encoding="utf-8").splitlines()]
    froms = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    assert froms and all(f == "python:3.11-slim" for f in froms)
    assert any("pip install" in ln and ".[collector]" in ln for ln in lines)
    user = next(ln.split()[1] for ln in reversed(lines) if ln.startswith("USER "))
    assert user.split(":")[0] not in ("root", "0")
    copied = [ln.split()[-2] for ln in lines if ln.startswith("COPY") and "entrypoint" in ln]
    assert copied and (DEPLOY.parent / copied[0]).resolve() == ENTRYPOINT.resolve()


def _haproxy(text: str) -> dict[tuple[str, str], list[list[str]]]:
    """Sections of haproxy.cfg: (kind, name) -> their directive lines, split into words."""
    sections: dict[tuple[str, str], list[list[str]]] = {}
    current: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw[0].isspace():
            kind, *name = line.split()
            current = sections.setdefault((kind, name[0] if name else ""), [])
        else:
            current.append(line.split())
    return sections


def test_haproxy_routes_tcp_to_both_collectors() -> None:
    cfg = load_collector_config(COMPOSE / "collector.yaml")
    collectors = set(_collector_services(_compose()))
    sections = _haproxy((COMPOSE / "haproxy.cfg").read_text(encoding="utf-8"))
    defaults_mode = next(d[1] for d in sections[("defaults", "")] if d[0] == "mode")
    for public, port in ((4317, _port(cfg.listen)), (4318, _enroll_port(cfg))):
        frontend = next(lines for (kind, _), lines in sections.items()
                        if kind == "frontend" and any(d[0] == "bind" and d[1].endswith(f":{public}") for d in lines))
        backend_name = next(d[1] for d in frontend if d[0] == "default_backend")
        backend = sections[("backend", backend_name)]
        modes = [d[1] for d in frontend + backend if d[0] == "mode"]
        assert set(modes or [defaults_mode]) == {"tcp"}, f"port {public} must pass TLS through (TCP mode)"
        assert ["option", "httpchk", "GET", "/healthz"] in backend
        servers = [d for d in backend if d[0] == "server"]
        assert {s[2].rpartition(":")[0] for s in servers} == collectors
        for s in servers:
            assert _port(s[2]) == port and "check" in s
            assert int(s[s.index("port") + 1]) == _port(cfg.api.listen), "health check on the API port"


# --------------------------------------------------------------------------- entrypoint


def _entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(ENTRYPOINT), *command], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=30)


def test_entrypoint_seeds_the_collector_id_and_reads_secret_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "pw").write_text("s3cret\n")
    env = {"PATROL_DATA_DIR": str(data), "PATROL_COLLECTOR_ID": "collector-1",
           "PGPASSWORD_FILE": str(tmp_path / "pw"), "PATROL_ADMIN_TOKEN_FILE": str(tmp_path / "pw")}
    done = _entrypoint(env, "sh", "-c", 'echo "$PGPASSWORD|$PATROL_ADMIN_TOKEN|${PGPASSWORD_FILE-unset}"')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "s3cret|s3cret|unset"
    # The collector, configured without collector_id, takes the id from the volume.
    cfg = CollectorConfig.model_validate({"data_dir": data, "insecure": True})
    assert collector_id_for(cfg) == "collector-1"
    assert _entrypoint(env, "true").returncode == 0  # a restart of the same member

    other = _entrypoint({**env, "PATROL_COLLECTOR_ID": "collector-2"}, "true")
    assert other.returncode != 0 and "belongs to collector collector-1" in other.stderr
    assert (data / "collector-id").read_text().strip() == "collector-1"


def test_entrypoint_refuses_bad_secrets_and_ids(tmp_path: Path) -> None:
    missing = _entrypoint({"PATROL_INFLUX_TOKEN_FILE": str(tmp_path / "nope")}, "true")
    assert missing.returncode != 0 and "PATROL_INFLUX_TOKEN_FILE" in missing.stderr
    (tmp_path / "pw").write_text("x")
    both = _entrypoint({"PGPASSWORD": "a", "PGPASSWORD_FILE": str(tmp_path / "pw")}, "true")
    assert both.returncode != 0 and "set only one" in both.stderr
    bad = _entrypoint({"PATROL_DATA_DIR": str(tmp_path), "PATROL_COLLECTOR_ID": "a b"}, "true")
    assert bad.returncode != 0 and not (tmp_path / "collector-id").exists()


# --------------------------------------------------------------------------- kubernetes


def _manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if d]
    return docs


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _k8s_config(docs: list[dict[str, Any]], tmp_path: Path) -> CollectorConfig:
    configmap = _one(docs, "ConfigMap")
    path = tmp_path / "collector.yaml"
    path.write_text(configmap["data"]["collector.yaml"], encoding="utf-8")
    return load_collector_config(path)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    kinds = {d["kind"] for d in _manifests()}
    assert kinds == {"Namespace", "Secret", "ConfigMap", "Job", "StatefulSet", "Service", "PodDisruptionBudget"}


def test_kubernetes_config_validates_and_matches_the_pods(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    docs = _manifests()
    env_secret = _one(docs, "Secret", "patrol-collector-env")["stringData"]
    for name, value in env_secret.items():
        monkeypatch.setenv(name, value)
    cfg = _k8s_config(docs, tmp_path)
    _assert_group_config(cfg)
    assert cfg.collector_id is None, "the ConfigMap serves every pod: the id comes from the pod name"
    named = {t.token_env for t in cfg.api.tokens} | {cfg.section("export").influx.token_env, "PGPASSWORD"}
    assert named <= set(env_secret), "every variable the configuration reads comes from the Secret"

    sts = _one(docs, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e for e in container["env"]}
    assert env["PATROL_COLLECTOR_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert container["envFrom"] == [{"secretRef": {"name": "patrol-collector-env"}}]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": _port(cfg.listen), "enroll": _enroll_port(cfg),
                     "api": _port(cfg.api.listen)}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "api"}, probe

    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    data = mounts[str(cfg.data_dir)]
    assert not data.get("readOnly") and "emptyDir" in volumes[data["name"]]
    config_mount = next(m for m in mounts.values() if "configMap" in volumes[m["name"]])
    assert Path(config_mount["mountPath"]) / "collector.yaml" == Path(container["args"][2])
    for path in _shared_paths(cfg):
        mount = next(m for p, m in mounts.items() if path.is_relative_to(p))
        secret = volumes[mount["name"]]["secret"]
        assert mount.get("readOnly") is True
        assert str(path.relative_to(mount["mountPath"])) in {i["path"] for i in secret["items"]}, path
        keys = _one(docs, "Secret", secret["secretName"])["stringData"]
        assert {i["key"] for i in secret["items"]} <= set(keys)
        assert secret["defaultMode"] & 0o027 == 0, "keys readable by the pod's group only"


def test_kubernetes_services_job_and_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _manifests()
    for name, value in _one(docs, "Secret", "patrol-collector-env")["stringData"].items():
        monkeypatch.setenv(name, value)
    cfg = _k8s_config(docs, tmp_path)
    sts = _one(docs, "StatefulSet")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    services = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Service"}
    assert sts["spec"]["serviceName"] in services and services[sts["spec"]["serviceName"]]["clusterIP"] == "None"
    lb = next(s for s in services.values() if s.get("type") == "LoadBalancer")
    assert {(p["port"], p["targetPort"], p["protocol"]) for p in lb["ports"]} >= {(4317, "grpc", "TCP")}
    api = next(s for s in services.values() if s.get("type") == "ClusterIP")
    assert [p["targetPort"] for p in api["ports"]] == ["api"]
    for spec in services.values():
        assert spec["selector"].items() <= labels.items()
    pdb = _one(docs, "PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb.get("maxUnavailable", 0) < sts["spec"]["replicas"]

    job = _one(docs, "Job")["spec"]["template"]["spec"]
    migrate = job["containers"][0]
    assert migrate["args"][-1] == "migrate" and migrate["args"][:3] == sts["spec"]["template"]["spec"][
        "containers"][0]["args"][:3]
    assert migrate["image"] == sts["spec"]["template"]["spec"]["containers"][0]["image"]
    assert job["restartPolicy"] in ("OnFailure", "Never")
    assert {v["configMap"]["name"] for v in job["volumes"] if "configMap" in v} == {
        _one(docs, "ConfigMap")["metadata"]["name"]}
    assert cfg.store_url().startswith("postgresql")
