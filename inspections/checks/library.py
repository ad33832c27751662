"""The check library: YAML definitions in this folder, bound to their implementations.

``metric`` and ``events`` definitions need no code. A ``python`` definition names its implementation
in :data:`PYTHON_CHECKS`; the texts, category, severity and levels still live in the YAML so the
whole catalogue can be reviewed in one place.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from inspections.checks.availability import AvailabilityCheck, HttpEndpointCheck, ProcessCheck, SystemdUnitCheck
from inspections.checks.backup import BackupFreshnessCheck, BackupSizeCheck
from inspections.checks.base import Check, PythonCheck
from inspections.checks.definition import CheckFile, EventCheckSpec, MetricCheckSpec, PythonCheckSpec
from inspections.checks.events import EventCountCheck
from inspections.checks.heartbeat import HeartbeatCheck
from inspections.checks.logs import ErrorRateCheck, FailedLoginCheck
from inspections.checks.metric import MetricCheck
from inspections.checks.reboot import RebootCheck
from inspections.errors import CheckDefinitionError, read_yaml, validation_message
from inspections.model import CATEGORIES

BUILTIN_DIR = Path(__file__).resolve().parent

PYTHON_CHECKS: dict[str, type[PythonCheck]] = {
    "heartbeat": HeartbeatCheck,
    "availability": AvailabilityCheck,
    "processes": ProcessCheck,
    "systemd_units": SystemdUnitCheck,
    "http_endpoints": HttpEndpointCheck,
    "backup_freshness": BackupFreshnessCheck,
    "backup_size": BackupSizeCheck,
    "error_rate": ErrorRateCheck,
    "failed_logins": FailedLoginCheck,
    "reboots": RebootCheck,
}


class CheckLibrary:
    """Checks by id, in definition order."""

    def __init__(self, checks: Sequence[Check]) -> None:
        self._checks: dict[str, Check] = {}
        for check in checks:
            if check.id in self._checks:
                raise CheckDefinitionError(f"check id {check.id!r} is defined twice")
            self._checks[check.id] = check

    def __iter__(self) -> Iterator[Check]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def ids(self) -> list[str]:
        return list(self._checks)

    def get(self, check_id: str) -> Check:
        try:
            return self._checks[check_id]
        except KeyError:
            raise KeyError(unknown_check_message(check_id, self.ids())) from None

    def select(self, patterns: Sequence[str]) -> list[Check]:
        """Checks matching any of the ids or glob patterns (``resources.*``), in library order."""
        return [c for c in self if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]


def unknown_check_message(check_id: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(check_id, known, n=3, cutoff=0.8)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see docs/inspections.md for the catalogue"
    return f"unknown check id {check_id!r}{hint}"


def build_check(spec: MetricCheckSpec | EventCheckSpec | PythonCheckSpec, source: str) -> Check:
    if isinstance(spec, MetricCheckSpec):
        return MetricCheck(spec)
    if isinstance(spec, EventCheckSpec):
        return EventCountCheck(spec)
    implementation = PYTHON_CHECKS.get(spec.implementation)
    if implementation is None:
        raise CheckDefinitionError(
            f"{source}: check {spec.id}: implementation {spec.implementation!r} is not registered; "
            f"known: {', '.join(sorted(PYTHON_CHECKS))}"
        )
    return implementation(spec, source)


def load_check_file(path: Path) -> list[Check]:
    raw = read_yaml(path, CheckDefinitionError)
    if not isinstance(raw, dict):
        raise CheckDefinitionError(f"{path}: expected a mapping with a 'checks' list at the top level")

    def describe(loc: tuple[int | str, ...]) -> str:
        if len(loc) >= 2 and loc[0] == "checks" and isinstance(loc[1], int):
            items = raw.get("checks")
            if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
                return f"id {items[loc[1]].get('id', '?')}"
        return ""

    try:
        parsed = CheckFile.model_validate(raw)
    except ValidationError as exc:
        raise CheckDefinitionError(validation_message(exc, str(path), describe)) from exc
    return [build_check(spec, str(path)) for spec in parsed.checks]


def load_library(paths: Sequence[Path] | None = None) -> CheckLibrary:
    """Load check definitions from YAML files or folders (default: the built-in catalogue)."""
    files: list[Path] = []
    for path in paths if paths is not None else [BUILTIN_DIR]:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    if not files:
        raise CheckDefinitionError(f"no check definition files (*.yaml) found in {', '.join(map(str, paths or []))}")
    checks: list[Check] = []
    defined_in: dict[str, Path] = {}
    for file in files:
        for check in load_check_file(file):
            if check.id in defined_in:
                raise CheckDefinitionError(
                    f"{file}: check id {check.id!r} is already defined in {defined_in[check.id]}; ids must be unique"
                )
            defined_in[check.id] = file
            checks.append(check)
    # Catalogue order follows the contract's five items, whatever the file names.
    checks.sort(key=lambda c: CATEGORIES.index(c.spec.category))
    return CheckLibrary(checks)


_BUILTIN: CheckLibrary | None = None


def builtin_library() -> CheckLibrary:
    """The shipped catalogue, loaded once per process."""
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = load_library()
    return _BUILTIN
