"""Prefilters: cheap necessary conditions that rule a regex out before it runs.

Most log lines match no rule. Testing a line for dozens of substrings costs ~70 ns each, which
adds up, so requirements come in two kinds:

- a **token**: an ASCII word (``[A-Za-z0-9_]+``) that every match contains as a whole word, for
  example ``password`` in ``Failed password for``. All tokens of all rules are tested at once by
  splitting the line into words and intersecting with one set, at a cost independent of the number
  of rules;
- a **substring**, when the regex has no usable whole word (``[err``, ``Exception`` in
  ``IOException``).

A prefilter is a set of requirements; a line can only match when it meets at least one of them.
They are read from the regex's parse tree: a run of literal characters that every match must
contain, or for an alternation one requirement per branch.
"""

from __future__ import annotations

from dataclasses import dataclass

# The parse tree is what the re compiler itself uses; it is private but stable since Python 3.11.
# Any surprise while walking it means "no prefilter", which is always correct, only slower.
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser as _p  # type: ignore[attr-defined]
from typing import Any

MIN_LITERAL = 3  # shorter literals occur in nearly every line and would filter nothing
MIN_TOKEN = 3
# Words so common in logs that a line containing one is no evidence for anything.
_COMMON = """
    the and for not are was has had new old out off all any can did get got put set use via
    pid uid gid tty ssh log Log GET PUT end New Old The
    from user port with this that have been info INFO warn WARN debug DEBUG host none true false
    null root main http https request response time data file server client process session
    started Started connection Connection command device Device
"""
COMMON_WORDS = frozenset(_COMMON.split())

_MARK = "\x00"  # a position where a word boundary is guaranteed (\b, ^, $)
_BOUNDARY_ATS = frozenset({_c.AT_BEGINNING, _c.AT_BEGINNING_STRING, _c.AT_BOUNDARY, _c.AT_END, _c.AT_END_STRING})


def is_word_char(ch: str) -> bool:
    # Non-ASCII characters count as separators both here and when lines are split into words,
    # which only ever adds candidate lines (see RuleSet._candidates in agent.logs.rules).
    return ch.isascii() and (ch.isalnum() or ch == "_")


@dataclass(frozen=True, slots=True)
class Prefilter:
    """A line can only match if it has one of ``tokens`` as a whole word or contains one of
    ``substrings`` (compared after ``str.casefold`` when ``ignore_case``)."""

    tokens: tuple[str, ...] = ()
    substrings: tuple[str, ...] = ()
    ignore_case: bool = False
    # Second stage for lines that passed the index: substrings (one of which every match contains)
    # that are far more selective than a single word, and far cheaper to test than the regex.
    confirm: tuple[str, ...] = ()


Requirement = tuple[str, str]  # ("token" | "substring", text)


def for_regex(pattern: str, flags: int = 0) -> Prefilter | None:
    """The cheapest prefilter that every match of ``pattern`` satisfies, or ``None``."""
    try:
        tree = _p.parse(pattern, flags)
        ignore_case = bool(tree.state.flags & _c.SRE_FLAG_IGNORECASE)
        best = _best(list(tree), allow_tokens=not ignore_case)
        literal_only = None if ignore_case else _best(list(tree), allow_tokens=False)
    except Exception:  # see the import comment
        return None
    if best is None:
        return None
    tokens = tuple(sorted(text for kind, text in best if kind == "token"))
    subs = sorted(text for kind, text in best if kind == "substring")
    if ignore_case:
        if not all(s.isascii() for s in subs):
            return None
        subs = sorted({s.casefold() for s in subs})
    confirm: tuple[str, ...] = ()
    if tokens and literal_only is not None:
        confirm_subs = [text for _, text in literal_only]
        # only worth a second stage when the literals say more than the words already did
        if min(map(len, confirm_subs)) > min(map(len, tokens)):
            confirm = tuple(sorted(confirm_subs))
    return Prefilter(tokens, tuple(subs), ignore_case, confirm)


def for_literal(text: str, ignore_case: bool = False) -> Prefilter | None:
    if ignore_case and not text.isascii():
        return None  # re's case folding of non-ASCII letters is not str.casefold's
    return Prefilter((), (text.casefold() if ignore_case else text,), ignore_case)


def _cost(reqs: frozenset[Requirement]) -> tuple[float, int]:
    total = 0.0
    for kind, text in reqs:
        if kind == "token":
            total += 0.05 if text not in COMMON_WORDS else 2.0
        else:
            total += 1.0 if len(text) >= 5 else 1.5
    # tie-break on selectivity: the shortest requirement is the one most often met by chance
    return total, -min(len(text) for _, text in reqs)


def _flatten(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Inline groups without flag changes: ``a(?P<x>b)c`` requires the run ``abc``."""
    out: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is _c.SUBPATTERN:
            _group, add_flags, del_flags, inner = av
            if not add_flags and not del_flags:
                out.extend(_flatten(list(inner)))
                continue
        out.append((op, av))
    return out


def _run_options(run: list[str], allow_tokens: bool) -> list[frozenset[Requirement]]:
    options: list[frozenset[Requirement]] = []
    literal = "".join(ch for ch in run if ch != _MARK)
    if len(literal) >= MIN_LITERAL:
        options.append(frozenset({("substring", literal)}))
    if not allow_tokens:
        return options
    # A word inside the run is whole when both its neighbours in the run are separators or
    # guaranteed boundaries; at the run's open ends the neighbouring text is unknown.
    word: list[str] = []
    left_bounded = False
    for ch in [*run, None]:
        if ch is not None and ch != _MARK and is_word_char(ch):
            word.append(ch)
            continue
        if word and left_bounded and ch is not None and len(word) >= MIN_TOKEN:
            options.append(frozenset({("token", "".join(word))}))
        word = []
        left_bounded = True
    return options


def _bounded_after(item: tuple[Any, Any] | None) -> bool:
    """Whether the text matched by ``item`` starts at a word boundary (so what precedes it ends a word)."""
    if item is None:
        return False
    op, av = item
    if op is _c.AT:
        return av in _BOUNDARY_ATS
    return op is _c.LITERAL and not is_word_char(chr(av))


def _best(
    items: list[tuple[Any, Any]],
    allow_tokens: bool,
    left_bounded: bool = False,
    right_bounded: bool = False,
) -> frozenset[Requirement] | None:
    """The cheapest requirement set of a sequence; ``*_bounded`` tell whether the text around the
    sequence is known to be a word boundary (an alternation between ``\\b`` or punctuation)."""
    candidates: list[frozenset[Requirement]] = []
    run: list[str] = [_MARK] if left_bounded else []

    def close_run() -> None:
        if run:
            candidates.extend(_run_options(run, allow_tokens))
            run.clear()

    flat = _flatten(items)
    for i, (op, av) in enumerate(flat):
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        if op is _c.AT:  # anchors consume nothing, so the run around them stays contiguous
            if av in _BOUNDARY_ATS:
                run.append(_MARK)
            continue
        before = bool(run) and (run[-1] == _MARK or not is_word_char(run[-1]))
        after = _bounded_after(flat[i + 1]) if i + 1 < len(flat) else right_bounded
        close_run()
        if op is _c.BRANCH:
            branches = [_best(list(b), allow_tokens, before, after) for b in av[1]]
            complete = [b for b in branches if b is not None]
            if complete and len(complete) == len(branches):
                candidates.append(frozenset().union(*complete))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            low, _high, repeated = av
            if low >= 1:
                once = _best(list(repeated), allow_tokens)
                if once is not None:
                    candidates.append(once)
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            atomic = _best(list(av), allow_tokens)
            if atomic is not None:
                candidates.append(atomic)
    if right_bounded and run:
        run.append(_MARK)
    close_run()
    return min(candidates, key=_cost, default=None)
