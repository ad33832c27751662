"""Log rule packs: YAML files validated with pydantic, compiled into a fast first-match matcher.

Order: rules are tried by ascending ``priority`` (default 100); equal priorities keep their order
of appearance (packs in load order, the default pack first). The first rule that matches wins, so
a line becomes at most one event. A later pack that defines an existing id replaces that rule in
place of the original; ``disable: [ids]`` switches rules of earlier packs off.

Speed: each rule has a prefilter (derived from its regex, see :mod:`agent.logs.prefilter`, or
given as ``prefilter:`` substrings). A line is split into words once and intersected with the
words all rules need; only rules whose word or substring the line has run their regex. Most lines
have none, so a miss costs about a microsecond however many rules there are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from annotated_types import Ge, Le, MaxLen, MinLen

from agent.configfile import error_message, validate
from agent.configtypes import After, Before, Pattern, Section
from agent.logs import prefilter
from agent.logs.model import Severity
from agent.logs.prefilter import Prefilter

if TYPE_CHECKING:
    from pydantic import ValidationError

DEFAULT_PACK = Path(__file__).with_name("default_rules.yaml")
DEFAULT_PACK_NAME = "default"

RuleId = Annotated[str, MaxLen(128), Pattern(r"^[a-z0-9_]+(?:\.[a-z0-9_-]+)*$")]


class RulePackError(ValueError):
    """A rule pack that cannot be used; the message names the file, the rule and the field."""


# ---------------------------------------------------------------------------- schema
# Frozen dataclasses, validated with pydantic where packs are read (load_pack); the agent itself
# receives them already validated from its config check and only compiles them.


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex: {exc}") from None
    return pattern


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


Regex = Annotated[str, After(_check_regex)]
NonEmpty = Annotated[str, MinLen(1)]


@dataclass(frozen=True, kw_only=True)
class LocalizedName(Section):
    zh: NonEmpty
    en: NonEmpty


@dataclass(frozen=True, kw_only=True)
class MatchSpec(Section):
    """Exactly one of ``regex`` (Python syntax, ``re.search``) or ``contains`` (plain substring)."""

    regex: Regex | None = None
    contains: NonEmpty | None = None
    ignore_case: bool = False

    def __post_init__(self) -> None:
        if (self.regex is None) == (self.contains is None):
            raise ValueError("give exactly one of 'regex' or 'contains'")


@dataclass(frozen=True, kw_only=True)
class MultilineSpec(Section):
    continuation: Regex
    max_lines: Annotated[int, Ge(2), Le(10_000)] = 200


@dataclass(frozen=True, kw_only=True)
class RuleSpec(Section):
    id: RuleId
    name: LocalizedName
    severity: Severity
    priority: Annotated[int, Ge(0), Le(100_000)] = 100
    match: MatchSpec
    exclude: Annotated[list[MatchSpec], Before(_one_or_many)] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    prefilter: list[NonEmpty] | None = None
    multiline: MultilineSpec | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class RulePackSpec(Section):
    version: Literal[1] = 1
    rules: list[RuleSpec] = field(default_factory=list)
    disable: list[RuleId] = field(default_factory=list)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is defined twice in this pack")
            seen.add(rule.id)


# ---------------------------------------------------------------------------- loading


def load_pack(path: Path | str) -> RulePackSpec:
    """Read and validate one pack (this imports PyYAML and pydantic); ``"default"`` names the built-in pack."""
    import yaml
    from pydantic import ValidationError

    file = DEFAULT_PACK if str(path) == DEFAULT_PACK_NAME else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulePackError(f"rule pack {file}: cannot read it: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        raise RulePackError(f"rule pack {file}: invalid YAML{where}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RulePackError(f"rule pack {file}: expected a mapping with a 'rules' list at the top level")
    try:
        return validate(RulePackSpec, raw)
    except ValidationError as exc:
        raise RulePackError(_describe(file, raw, exc)) from None


def _describe(file: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = raw.get("rules")
            rule_id = None
            if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
                rule_id = rules[loc[1]].get("id")
            where = f"rule {rule_id!r} (rules[{loc[1]}])" if rule_id else f"rules[{loc[1]}]"
            loc = loc[2:]
        # pydantic puts union/validator names into the location; they mean nothing to a reader
        fields = ".".join(str(part) for part in loc if not str(part).startswith("function-"))
        message = error_message(err).removeprefix("Value error, ")
        parts = [p for p in (where, f"field {fields!r}" if fields else "") if p]
        problems.append(f"{', '.join(parts) or 'pack'}: {message}")
    return f"rule pack {file}: " + "; ".join(problems)


def load_rule_specs(packs: Iterable[Path | str] = (), *, include_default: bool = True) -> list[RuleSpec]:
    """The rules of the default pack (unless switched off) and ``packs``, merged in that order.

    A later pack's rule replaces an earlier one with the same id in its place; ``disable`` drops
    earlier rules. Reading the packs imports PyYAML and pydantic.
    """
    sources: list[Path | str] = [DEFAULT_PACK_NAME] if include_default else []
    sources.extend(packs)
    merged: dict[str, RuleSpec] = {}
    for source in sources:
        pack = load_pack(source)
        for rule_id in pack.disable:
            merged.pop(rule_id, None)
        for rule in pack.rules:
            merged[rule.id] = rule  # redefining keeps the slot of the original (dict order)
    return list(merged.values())


def load_rules(packs: Iterable[Path | str] = (), *, include_default: bool = True) -> RuleSet:
    """Compile the default pack (unless switched off) followed by ``packs``, in that order."""
    return RuleSet.compile(load_rule_specs(packs, include_default=include_default))


# ---------------------------------------------------------------------------- compiled rules


class _Finder:
    """A compiled match spec: ``search`` returns the match (or a truthy sentinel for ``contains``)."""

    __slots__ = ("literal", "regex")

    def __init__(self, spec: MatchSpec) -> None:
        self.regex: re.Pattern[str] | None = None
        self.literal: str | None = None
        if spec.regex is not None:
            self.regex = re.compile(spec.regex, re.IGNORECASE if spec.ignore_case else 0)
        elif spec.ignore_case:
            # keep the literal exact and let re do case folding: casefold() may change lengths
            self.regex = re.compile(re.escape(spec.contains or ""), re.IGNORECASE)
        else:
            self.literal = spec.contains

    def found(self, text: str) -> bool:
        if self.literal is not None:
            return self.literal in text
        assert self.regex is not None
        return self.regex.search(text) is not None


@dataclass(eq=False, slots=True)
class Rule:
    """One compiled rule; ``order`` is its position in evaluation order."""

    id: str
    name_zh: str
    name_en: str
    severity: Severity
    priority: int
    order: int
    finder: _Finder
    excludes: tuple[_Finder, ...]
    sources: tuple[str, ...]
    prefilter: Prefilter | None
    confirm: tuple[str, ...] = ()
    continuation: re.Pattern[str] | None = None
    max_lines: int = 200
    _field_names: dict[str, str] = field(default_factory=dict)

    def fields_of(self, text: str) -> dict[str, str] | None:
        """Named groups of a match (``None`` values dropped), or ``None`` when it does not match."""
        finder = self.finder
        if finder.regex is None:
            return {} if finder.literal in text else None  # type: ignore[operator]
        m = finder.regex.search(text)
        if m is None:
            return None
        out: dict[str, str] = {}
        for group, value in m.groupdict().items():
            if value is not None:
                out[self._field_names[group]] = value.strip()
        return out

    def applies_to(self, source: str) -> bool:
        return not self.sources or any(fnmatchcase(source, pat) for pat in self.sources)


def _compile_rule(spec: RuleSpec, order: int) -> Rule:
    finder = _Finder(spec.match)
    if spec.prefilter is not None:
        pre: Prefilter | None = Prefilter((), tuple(spec.prefilter), False)
    elif spec.match.contains is not None:
        pre = prefilter.for_literal(spec.match.contains, spec.match.ignore_case)
    else:
        flags = re.IGNORECASE if spec.match.ignore_case else 0
        pre = prefilter.for_regex(spec.match.regex or "", flags)
    names = {g: g.split("__", 1)[0] for g in finder.regex.groupindex} if finder.regex else {}
    return Rule(
        id=spec.id,
        name_zh=spec.name.zh,
        name_en=spec.name.en,
        severity=spec.severity,
        priority=spec.priority,
        order=order,
        finder=finder,
        excludes=tuple(_Finder(x) for x in spec.exclude),
        sources=tuple(spec.sources),
        prefilter=pre,
        confirm=pre.confirm if pre is not None else (),
        continuation=re.compile(spec.multiline.continuation) if spec.multiline else None,
        max_lines=spec.multiline.max_lines if spec.multiline else 200,
        _field_names=names,
    )


# Bytes of ASCII word characters map to themselves, everything else to a space, so
# ``bytes.split()`` yields the line's words. Non-ASCII bytes become separators too: that can only
# split a word in two, which adds candidate lines but never loses one.
_WORD_TABLE = bytes(c if prefilter.is_word_char(chr(c)) else 0x20 for c in range(256))


class RuleSet:
    """Compiled rules in evaluation order, with the prefilter index that makes misses cheap."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        by_token: dict[bytes, list[int]] = {}
        by_substring: dict[str, list[int]] = {}
        by_folded: dict[str, list[int]] = {}
        always: list[int] = []
        for rule in self.rules:
            pre = rule.prefilter
            if pre is None:
                always.append(rule.order)
                continue
            for token in pre.tokens:
                by_token.setdefault(token.encode(), []).append(rule.order)
            for sub in pre.substrings:
                (by_folded if pre.ignore_case else by_substring).setdefault(sub, []).append(rule.order)
        self._by_token = {tok: tuple(idx) for tok, idx in by_token.items()}
        self._tokens = frozenset(self._by_token)
        self._substrings = [(sub, tuple(idx)) for sub, idx in by_substring.items()]
        self._folded = [(sub, tuple(idx)) for sub, idx in by_folded.items()]
        self._always = tuple(always)
        self._applies: dict[str, tuple[bool, ...]] = {}
        self.has_multiline = any(r.continuation is not None for r in self.rules)

    @classmethod
    def compile(cls, specs: Sequence[RuleSpec]) -> RuleSet:
        ordered = sorted(enumerate(specs), key=lambda pair: (pair[1].priority, pair[0]))
        return cls([_compile_rule(spec, order) for order, (_, spec) in enumerate(ordered)])

    def by_id(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def match(self, text: str, source: str) -> tuple[Rule, dict[str, str]] | None:
        """The first rule (in evaluation order) matching ``text`` from ``source``, and its fields."""
        candidates = self._candidates(text)
        if not candidates:
            return None
        applies = self._applies.get(source)
        if applies is None:
            applies = self._applies[source] = tuple(r.applies_to(source) for r in self.rules)
        rules = self.rules
        for order in candidates:
            if not applies[order]:
                continue
            rule = rules[order]
            if rule.confirm and not any(sub in text for sub in rule.confirm):
                continue
            fields = rule.fields_of(text)
            if fields is None:
                continue
            if rule.excludes and any(x.found(text) for x in rule.excludes):
                continue
            return rule, fields
        return None

    def _candidates(self, text: str) -> list[int]:
        hits: list[int] = []
        if self._tokens:
            words = text.encode("utf-8", "replace").translate(_WORD_TABLE).split()
            if not self._tokens.isdisjoint(words):
                by_token = self._by_token
                for word in self._tokens.intersection(words):
                    hits.extend(by_token[word])
        for sub, idx in self._substrings:
            if sub in text:
                hits.extend(idx)
        if self._folded:
            folded = text.casefold()
            for sub, idx in self._folded:
                if sub in folded:
                    hits.extend(idx)
        if self._always:
            hits.extend(self._always)
        if len(hits) > 1:
            return sorted(set(hits))
        return hits
