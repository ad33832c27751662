"""The log rules' display names: what people read instead of a rule id.

One table (``log_rules.yaml`` beside this module), keyed by rule id, with the name in Chinese and
English; the agent's built-in pack names its rules the same way. Evidence of the event checks
counts events per rule id, and reports and the CLI say which kinds of events were counted with
:func:`counts_text` ("磁盘 I/O 错误 12 次，内核 OOM 3 次"). A rule this table does not know (one of a
customer's own packs) reads as "other log events", never as its id.

Pure data: importable from ``inspections``, ``reports`` and ``collector`` alike, never from the agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

import yaml

LOG_RULES_FILE = Path(__file__).resolve().parent / "log_rules.yaml"
LANGUAGES = ("zh", "en")
OTHER = MappingProxyType({"zh": "其他日志事件", "en": "Other log events"})


class LogRulesError(ValueError):
    """The table is malformed: the message names the rule and what is wrong."""


@cache
def log_rule_names() -> Mapping[str, Mapping[str, str]]:
    """Rule id → {"zh": ..., "en": ...}, in the table's order."""
    data = yaml.safe_load(LOG_RULES_FILE.read_text(encoding="utf-8")) or {}
    rules = data.get("rules")
    if not isinstance(rules, dict) or not rules:
        raise LogRulesError(f"{LOG_RULES_FILE}: expected a non-empty mapping 'rules'")
    out: dict[str, Mapping[str, str]] = {}
    for rule, name in rules.items():
        if not isinstance(name, dict) or set(name) != set(LANGUAGES) \
                or not all(isinstance(name[lang], str) and name[lang].strip() for lang in LANGUAGES):
            raise LogRulesError(f"{LOG_RULES_FILE}: rule {rule}: the name needs exactly zh and en, both non-empty")
        out[str(rule)] = MappingProxyType({lang: str(name[lang]).strip() for lang in LANGUAGES})
    return MappingProxyType(out)


def rule_name(rule: str, lang: str) -> str:
    """The rule's display name in ``lang`` (zh or en)."""
    return log_rule_names().get(rule, OTHER).get(lang) or log_rule_names().get(rule, OTHER)["en"]


def ranked(counts: Mapping[str, int], rules: Iterable[str] | None = None) -> tuple[tuple[str, int], ...]:
    """The rules with events (only ``rules`` when given) and their counts, most first: evidence counts."""
    wanted = None if rules is None else set(rules)
    kept = [(rule, int(n)) for rule, n in counts.items() if n > 0 and (wanted is None or rule in wanted)]
    return tuple(sorted(kept, key=lambda item: (-item[1], item[0])))


def counts_text(counts: Iterable[tuple[str, int]], lang: str) -> str:
    """Events per rule as people read them, most first: "磁盘 I/O 错误 12 次，内核 OOM 3 次" or
    "Disk I/O error: 12; Kernel OOM: 3". Rules the table lacks are summed as other log events."""
    by_name: dict[str, int] = {}
    for rule, n in counts:
        if n > 0:
            name = rule_name(rule, lang)
            by_name[name] = by_name.get(name, 0) + n
    ranked = sorted(by_name.items(), key=lambda item: (-item[1], item[0]))
    if lang == "zh":
        return "，".join(f"{name} {n:,} 次" for name, n in ranked)
    return "; ".join(f"{name}: {n:,}" for name, n in ranked)
