"""``packages``: how many packages are installed, the most recently installed or upgraded, and a search.

Debian family: ``dpkg-query`` for the list; the modification time of ``/var/lib/dpkg/info/<pkg>.list``
(rewritten on every install or upgrade) for recency. Red Hat family: ``rpm -qa`` with install times.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.diagnostics.actions.base import ActionSpec, Params, Prepared
from agent.diagnostics.actions.text import columns
from agent.diagnostics.config import DiagnosticsConfig
from agent.diagnostics.context import ActionContext, ActionError, Denied

DPKG_INFO = Path("/var/lib/dpkg/info")
_MATCH = re.compile(r"^[A-Za-z0-9.+:_*?-]{1,100}$")
_BINARIES = "/usr/bin:/bin:/usr/sbin:/sbin"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    installed: float | None  # unix seconds of the last install/upgrade, when known


def dpkg_packages(ctx: ActionContext, dpkg_query: str) -> list[Package]:
    done = ctx.capture([dpkg_query, "-W", "-f", "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n"])
    if done.returncode not in (0, 1) and not done.output:
        raise ActionError(f"dpkg-query failed with status {done.returncode}")
    out = []
    for line in done.output.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or not parts[3].startswith("ii"):
            continue
        name, version, arch = parts[0], parts[1], parts[2]
        installed = None
        for candidate in (f"{name}:{arch}.list", f"{name}.list"):
            try:
                installed = os.stat(DPKG_INFO / candidate).st_mtime
                break
            except OSError:
                continue
        out.append(Package(name, version, arch, installed))
    return out


def rpm_packages(ctx: ActionContext, rpm: str) -> list[Package]:
    done = ctx.capture([rpm, "-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\t%{INSTALLTIME}\n"])
    if done.returncode != 0 and not done.output:
        raise ActionError(f"rpm -qa failed with status {done.returncode}")
    out = []
    for line in done.output.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            out.append(Package(parts[0], parts[1], parts[2], float(parts[3]) if parts[3].isdigit() else None))
    return out


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M") if ts else "?"


def prepare(params: Params, _cfg: DiagnosticsConfig) -> Prepared:
    recent = params.integer("recent", 20, 0, 200)
    match = params.text("match")
    if match is not None and not _MATCH.match(match):
        raise Denied(f"match={match!r} must be a package name or glob (letters, digits, . + : _ - * ?)")

    def run(ctx: ActionContext) -> Iterator[bytes]:
        dpkg_query = shutil.which("dpkg-query", path=_BINARIES)
        rpm = shutil.which("rpm", path=_BINARIES)
        if dpkg_query:
            manager, pkgs = "dpkg", dpkg_packages(ctx, dpkg_query)
        elif rpm:
            manager, pkgs = "rpm", rpm_packages(ctx, rpm)
        else:
            raise ActionError("no supported package manager found (dpkg or rpm)")
        arches = Counter(p.arch for p in pkgs)
        yield (f"# {len(pkgs)} packages installed ({manager}); by architecture: "
               + ", ".join(f"{a} {n}" for a, n in arches.most_common()) + "\n").encode()
        if recent:
            latest = sorted((p for p in pkgs if p.installed), key=lambda p: -(p.installed or 0))[:recent]
            yield f"\n# {len(latest)} most recently installed or upgraded\n".encode()
            yield columns(("WHEN (UTC)", "PACKAGE", "VERSION", "ARCH"),
                          [(_when(p.installed), p.name, p.version, p.arch) for p in latest])
        if match is not None:
            found = sorted((p for p in pkgs if fnmatch.fnmatchcase(p.name, match)), key=lambda p: p.name)
            yield f"\n# {len(found)} packages matching {match!r}\n".encode()
            if found:
                yield columns(("PACKAGE", "VERSION", "ARCH", "INSTALLED (UTC)"),
                              [(p.name, p.version, p.arch, _when(p.installed)) for p in found[:500]])

    return Prepared(run)


PACKAGES = ActionSpec("packages", "installed packages: count, most recent, search",
                      {"recent": "0..200 (default 20)", "match": "name or glob, e.g. openssl*"}, prepare)
