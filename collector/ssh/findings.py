"""Inspection findings from the SSH targets' state: unreachable hosts and refused host keys.

Two host-level checks, evaluated from each target's state row (:mod:`collector.ssh.state`):

- ``ssh.reachable`` — consecutive failed polls (connect, handshake, authentication); warning from
  the first failure, critical from the third. The note carries the state and the last error.
- ``ssh.host_key`` — critical when the host key differs from the one in known_hosts (the
  connection was refused), unknown when the host is not in known_hosts at all, ok once a poll
  verified the key. Not reported while the host cannot be reached.

The functions are pure over :class:`~collector.ssh.state.TargetStatus`; :func:`ssh_findings` reads
the rows from the store for the inspection run.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from collector.ssh.state import OK, TargetStatus, load_statuses
from collector.store.read import from_ms
from inspections.model import Evidence, Finding, SeriesRef, Threshold

REACHABLE = "ssh.reachable"
HOST_KEY = "ssh.host_key"
REACHABLE_THRESHOLD = Threshold(warn=1, crit=3, direction="above")
HOST_KEY_THRESHOLD = Threshold(warn=None, crit=1, direction="below")

_REACHABLE_NAME = {"zh": "SSH 巡检连通性", "en": "SSH inspection reachability"}
_HOST_KEY_NAME = {"zh": "SSH 主机密钥", "en": "SSH host key"}

_RECOMMEND: dict[str, dict[str, str]] = {
    "unreachable": {
        "zh": "确认主机已开机、网络可达且 sshd 正在监听所配置的端口;检查防火墙是否放行采集端地址。",
        "en": "Check that the host is up and reachable and that sshd listens on the configured port; make sure "
              "firewalls let the collector through.",
    },
    "auth_failed": {
        "zh": "确认巡检公钥已加入目标用户的 authorized_keys,且该用户允许登录(AllowUsers、账户未锁定)。",
        "en": "Make sure the inspection public key is in the user's authorized_keys and that the user may log "
              "in (AllowUsers, account not locked).",
    },
    "key_error": {
        "zh": "检查采集端配置的私钥文件及口令环境变量是否存在、可读且正确。",
        "en": "Check that the configured private key file and its passphrase variable exist, are readable and "
              "are correct on the collector.",
    },
    "error": {
        "zh": "查看采集端日志中的 SSH 错误详情,确认目标 sshd 配置与所支持的算法。",
        "en": "Read the SSH error in the collector log and check the target's sshd configuration and algorithms.",
    },
}
_HOST_KEY_RECOMMEND = {
    "zh": "主机密钥与记录不一致,连接已被拒绝:可能是中间人攻击,也可能是主机重装。请通过带外方式核实新指纹后,"
          "再用 ssh-keygen -R 删除旧记录并写入新密钥。",
    "en": "The host key differs from the recorded one and the connection was refused: this may be a "
          "man-in-the-middle or a reinstalled host. Verify the new fingerprint out of band, then remove the old "
          "entry with ssh-keygen -R and record the new key.",
}


def _when(ms: int | None) -> str:
    dt = from_ms(ms)
    return dt.isoformat(timespec="seconds") if dt else "never"


def reachable_finding(status: TargetStatus) -> Finding:
    observed = float(status.consecutive_failures)
    note = None
    if status.state != OK:
        note = {
            "zh": f"状态 {status.state},自 {_when(status.state_since_ms)} 起;最后成功 {_when(status.last_ok_ms)};"
                  f"错误:{status.last_error}",
            "en": f"state {status.state} since {_when(status.state_since_ms)}; last success "
                  f"{_when(status.last_ok_ms)}; error: {status.last_error}",
        }
    return Finding(
        host_id=status.host_id,
        check_id=REACHABLE,
        subject="",
        status=REACHABLE_THRESHOLD.status_of(observed),
        observed=observed,
        threshold=REACHABLE_THRESHOLD,
        unit="polls",
        evidence=Evidence(source="host", series=(SeriesRef("probe.ssh_up"),), aggregation="consecutive failed polls",
                          latest_ts=from_ms(status.last_attempt_ms)),
        recommendation=_RECOMMEND.get(status.state, _RECOMMEND["error"]) if status.state != OK else _RECOMMEND[
            "unreachable"],
        category="device_network",
        severity="high",
        name=_REACHABLE_NAME,
        note=note,
    )


def host_key_finding(status: TargetStatus) -> Finding | None:
    evidence = Evidence(source="host", series=(SeriesRef("probe.ssh_hostkey_ok"),),
                        aggregation="host key check of the last poll", latest_ts=from_ms(status.last_attempt_ms))
    common = {"host_id": status.host_id, "check_id": HOST_KEY, "subject": "", "threshold": HOST_KEY_THRESHOLD,
              "unit": "", "evidence": evidence, "recommendation": _HOST_KEY_RECOMMEND, "category": "data_security",
              "severity": "high", "name": _HOST_KEY_NAME}
    if status.state == "hostkey_changed":
        note = {"zh": f"自 {_when(status.state_since_ms)} 起拒绝连接:{status.last_error}",
                "en": f"connections refused since {_when(status.state_since_ms)}: {status.last_error}"}
        return Finding(status="critical", observed=0.0, note=note, **common)  # type: ignore[arg-type]
    if status.state == "hostkey_unknown":
        return Finding(status="unknown", observed=None, unknown_reason=status.last_error or "host key not recorded",
                       **common)  # type: ignore[arg-type]
    if status.state in (OK, "auth_failed"):  # both mean the key was checked and matched
        return Finding(status="ok", observed=1.0, **common)  # type: ignore[arg-type]
    return None


def findings_for(status: TargetStatus) -> list[Finding]:
    found = [reachable_finding(status)]
    key = host_key_finding(status)
    if key is not None:
        found.append(key)
    return found


def findings_from(statuses: Iterable[TargetStatus]) -> list[Finding]:
    return [f for status in statuses for f in findings_for(status)]


def ssh_findings(conn: Connection, host_ids: list[str] | None = None) -> list[Finding]:
    """Findings of the SSH targets in the store (pass the configured ``host_ids`` to leave out removed ones)."""
    return findings_from(load_statuses(conn, host_ids).values())
