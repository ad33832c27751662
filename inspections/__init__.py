"""Inspections: a check library, profiles and overrides, the engine and health scores.

Pure: plain data in (:class:`InspectionData`), findings out (:class:`InspectionResult`). ::

    from inspections import MemoryData, load_profile, load_overrides, run_inspection

    result = run_inspection(data, hosts, load_profile("monthly"), overrides=load_overrides(path))
    store(result.to_dict())
"""

from inspections.checklist import ChecklistItem, ChecklistRow, blank_rows, load_checklist
from inspections.checks.base import Check, CheckInputs, NotApplicable, Observation, PythonCheck
from inspections.checks.context import CheckContext
from inspections.checks.library import PYTHON_CHECKS, CheckLibrary, builtin_library, load_library
from inspections.data import (
    EventRecord,
    EventStamps,
    HostInfo,
    InspectionData,
    LatestValue,
    MemoryData,
    PrefetchingData,
    RollupColumns,
    RollupPoint,
    SeriesRollup,
)
from inspections.engine import InspectionProgress, inspect_host, run_inspection
from inspections.errors import CheckDefinitionError, InspectionConfigError, OverrideError, ProfileError
from inspections.expectations import ExpectedHttp, ExpectedProcess, HostExpectations
from inspections.hysteresis import PreviousStatuses, Recovery
from inspections.model import (
    CATEGORIES,
    CATEGORY_TITLES,
    CustomerScore,
    Evidence,
    Finding,
    HostResult,
    InspectionResult,
    SeriesRef,
    Skipped,
    Threshold,
)
from inspections.overrides import Overrides, load_overrides, parse_overrides, parse_overrides_text
from inspections.profiles import Profile, builtin_profile_names, load_profile
from inspections.scoring import DEFAULT_WEIGHTS, ScoreWeights, customer_score, host_score

__all__ = [
    "CATEGORIES",
    "CATEGORY_TITLES",
    "DEFAULT_WEIGHTS",
    "PYTHON_CHECKS",
    "Check",
    "CheckContext",
    "CheckDefinitionError",
    "CheckInputs",
    "CheckLibrary",
    "ChecklistItem",
    "ChecklistRow",
    "CustomerScore",
    "EventRecord",
    "EventStamps",
    "Evidence",
    "ExpectedHttp",
    "ExpectedProcess",
    "Finding",
    "HostExpectations",
    "HostInfo",
    "HostResult",
    "InspectionConfigError",
    "InspectionData",
    "InspectionProgress",
    "InspectionResult",
    "LatestValue",
    "MemoryData",
    "NotApplicable",
    "Observation",
    "OverrideError",
    "Overrides",
    "PrefetchingData",
    "PreviousStatuses",
    "Profile",
    "ProfileError",
    "PythonCheck",
    "Recovery",
    "RollupColumns",
    "RollupPoint",
    "ScoreWeights",
    "SeriesRef",
    "SeriesRollup",
    "Skipped",
    "Threshold",
    "blank_rows",
    "builtin_library",
    "builtin_profile_names",
    "customer_score",
    "host_score",
    "inspect_host",
    "load_checklist",
    "load_library",
    "load_overrides",
    "load_profile",
    "parse_overrides",
    "parse_overrides_text",
    "run_inspection",
]
