"""Which state changes a ticket allows, and what each does to the SLA clocks.

The path of service-requirements §3 is registered → classified → assigned → responded → diagnosing →
(remote | on site) → workaround → resolved → customer-verified → archived → surveyed.

Work moves forward; steps may be skipped (a hotline engineer who fixes a problem during the call
goes from registered to resolved), but it never moves back, except:

- remote ⇄ on site, and from a workaround back to diagnosis/remote/on site (the long-term fix);
- a *reopen* from resolved or customer-verified, which returns to where work stood before the
  resolution and restarts the restore and resolve clocks.

Archiving needs a closure record (cause and solution); surveyed is reached by recording the
customer's satisfaction rating.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.tickets.model import OPEN_STATES, State

_ORDER = [State.REGISTERED, State.CLASSIFIED, State.ASSIGNED, State.RESPONDED, State.DIAGNOSING, State.REMOTE,
          State.ON_SITE, State.WORKAROUND, State.RESOLVED, State.CUSTOMER_VERIFIED, State.ARCHIVED, State.SURVEYED]
RANK = {s: i for i, s in enumerate(_ORDER)}
RANK[State.ON_SITE] = RANK[State.REMOTE]  # alternatives at the same stage


def _forward(state: State, *extra: State) -> frozenset[State]:
    later = {s for s in OPEN_STATES if RANK[s] > RANK[state]}
    return frozenset({*later, State.RESOLVED, *extra})


TRANSITIONS: dict[State, frozenset[State]] = {
    State.REGISTERED: _forward(State.REGISTERED),
    State.CLASSIFIED: _forward(State.CLASSIFIED),
    State.ASSIGNED: _forward(State.ASSIGNED),
    State.RESPONDED: _forward(State.RESPONDED),
    State.DIAGNOSING: _forward(State.DIAGNOSING),
    State.REMOTE: _forward(State.REMOTE, State.ON_SITE, State.DIAGNOSING),
    State.ON_SITE: _forward(State.ON_SITE, State.REMOTE, State.DIAGNOSING),
    State.WORKAROUND: frozenset({State.DIAGNOSING, State.REMOTE, State.ON_SITE, State.RESOLVED}),
    State.RESOLVED: frozenset({State.CUSTOMER_VERIFIED, State.ARCHIVED}),
    State.CUSTOMER_VERIFIED: frozenset({State.ARCHIVED}),
    State.ARCHIVED: frozenset({State.SURVEYED}),
    State.SURVEYED: frozenset(),
}
REOPENABLE = frozenset({State.RESOLVED, State.CUSTOMER_VERIFIED})

# Entering a state at or past these ranks means the event behind a clock has happened.
RESPONDED_RANK = RANK[State.RESPONDED]


class TransitionError(ValueError):
    """A state change the lifecycle does not allow; the message lists what is allowed."""


def check_transition(current: State, target: State) -> None:
    if target == current:
        raise TransitionError(f"the ticket is already {current.value}")
    allowed = TRANSITIONS[current]
    if target not in allowed:
        hint = " or reopen it" if current in REOPENABLE else ""
        listed = ", ".join(sorted(s.value for s in allowed)) or "nothing (final state)"
        raise TransitionError(f"cannot move a {current.value} ticket to {target.value}; allowed: {listed}{hint}")


def reopen_target(current: State, resumed_from: State | None) -> State:
    """Where a reopened ticket resumes: the state it was resolved from, at least diagnosing if it was worked on."""
    if current not in REOPENABLE:
        raise TransitionError(f"only resolved or customer_verified tickets can be reopened; this one is "
                              f"{current.value}")
    if resumed_from is not None and resumed_from.is_open and RANK[resumed_from] < RESPONDED_RANK:
        return resumed_from
    return State.DIAGNOSING


@dataclass(frozen=True)
class ClockEffects:
    """Clocks to stop as met, stop because the ticket was resolved first, and restart."""

    met: frozenset[str] = frozenset()
    resolved: frozenset[str] = frozenset()
    restart: frozenset[str] = frozenset()


def clock_effects(target: State, *, by_person: bool, reopen: bool = False) -> ClockEffects:
    """What entering ``target`` does to the clocks.

    An automatic resolution (the condition cleared) does not count as a response or an on-site visit:
    those clocks stop as "resolved" and restart if the ticket is reopened.
    """
    if reopen:
        return ClockEffects(restart=frozenset({"restore", "resolve"}))
    met: set[str] = set()
    resolved: set[str] = set()
    rank = RANK[target]
    if rank >= RESPONDED_RANK and (by_person or target != State.RESOLVED):
        met.add("respond")
    if target == State.ON_SITE:
        met.add("on_site")
    if target in (State.WORKAROUND, State.RESOLVED):
        met.add("restore")
        resolved.add("plan")  # restored before the plan was due: no plan needed
    if target == State.RESOLVED:
        met.add("resolve")
        resolved.update({"respond", "on_site"} - met)
        if not by_person:
            # Nobody worked on it: the clocks did not "meet" their target, the reason went away.
            resolved.update({"respond", "restore", "resolve"})
            met.clear()
    if target in (State.ARCHIVED, State.CUSTOMER_VERIFIED, State.SURVEYED):
        resolved.update({"respond", "on_site", "restore", "resolve", "plan"})
    return ClockEffects(met=frozenset(met), resolved=frozenset(resolved - met))
