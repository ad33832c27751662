"""The knowledge base of resolved problems (常见问题及解决方案), built from ticket closures.

Every resolved ticket's closure record says what the cause was, what solved it and how it is
prevented. Tickets of the same problem — the same check and subject for tickets the system
raised, the same wording once the host name is left out for tickets people registered — make one
entry, counted by how often the problem happened, with the newest closure as its answer. The
entry lists the hosts and customers it happened on, so an engineer facing a fault finds how the
last one like it was solved, and the provider's quality report lists its most frequent problems.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.store import queries
from collector.tickets import repository as repo
from collector.tickets.model import Closure, Source, Ticket
from collector.tickets.tables import tickets

_SPACES = re.compile(r"\s+")
_EDGES = " :：-—,，;；"


@dataclass(frozen=True)
class KnownProblem:
    """One problem seen ``count`` times, answered by its newest closure."""

    key: str
    problem: str
    fault_type: str | None
    cause_category: str | None
    cause: str
    solution: str
    prevention: str
    # Every distinct way it was solved, newest first (the first is ``solution``).
    solutions: tuple[str, ...]
    count: int
    customers: tuple[str, ...]
    hosts: tuple[str, ...]
    first_at: datetime
    last_at: datetime
    ticket_ids: tuple[int, ...]

    def matches(self, terms: Sequence[str]) -> bool:
        text = " ".join((self.problem, self.cause, self.prevention, *self.solutions, *self.hosts)).casefold()
        return all(term in text for term in terms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "problem": self.problem, "fault_type": self.fault_type,
            "cause_category": self.cause_category, "cause": self.cause, "solution": self.solution,
            "prevention": self.prevention, "solutions": list(self.solutions), "count": self.count,
            "customers": list(self.customers),
            "hosts": list(self.hosts), "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat(),
            "ticket_ids": list(self.ticket_ids),
        }


def problem_text(title: str, *host_names: str | None) -> str:
    """The ticket's title without the host it happened on: what the problem is, wherever it was."""
    text = title
    for name in filter(None, host_names):
        text = re.sub(rf"\s+on\s+{re.escape(name)}\b", "", text)
        text = text.replace(f"{name}:", "").replace(name, "")
    return _SPACES.sub(" ", text).strip(_EDGES)


def _key(t: Ticket, problem: str) -> str:
    if t.source is Source.MANUAL:
        return "manual:" + problem.casefold()
    return f"{t.source.value}:{t.check_id}:{t.subject}"


def knowledge_base(conn: Connection, customer_id: str | None = None, query: str = "",
                   since: datetime | None = None, until: datetime | None = None) -> list[KnownProblem]:
    """Resolved problems, most frequent first; ``query``'s words must all appear (any case).

    ``since``/``until`` bound when the tickets were resolved (for a report period).
    """
    c = tickets.c
    stmt = select(tickets).where(c.closure.is_not(None), c.resolved_ms.is_not(None))
    if customer_id:
        stmt = stmt.where(c.customer_id == customer_id)
    if since is not None:
        stmt = stmt.where(c.resolved_ms >= int(since.timestamp() * 1000))
    if until is not None:
        stmt = stmt.where(c.resolved_ms < int(until.timestamp() * 1000))
    rows = [repo.row_to_ticket(r) for r in conn.execute(stmt.order_by(c.resolved_ms, c.id))]
    names = queries.hostnames(conn, [t.host_id for t in rows if t.host_id])
    groups: dict[str, list[tuple[Ticket, str, Closure]]] = {}
    for t in rows:
        if t.closure is None or not t.closure.solution.strip():
            continue
        hostname = names.get(t.host_id) if t.host_id else None
        problem = problem_text(t.title, hostname, t.host_id)
        groups.setdefault(_key(t, problem), []).append((t, problem, t.closure))
    out = []
    for key, members in groups.items():
        newest, problem, closure = members[-1]
        out.append(KnownProblem(
            key=key,
            problem=problem,
            fault_type=newest.classification.fault_type.value if newest.classification.fault_type else None,
            cause_category=newest.classification.cause.value if newest.classification.cause else None,
            cause=closure.cause, solution=closure.solution, prevention=closure.prevention,
            solutions=tuple(dict.fromkeys(c.solution for _, _, c in reversed(members))),
            count=len(members),
            customers=tuple(sorted({t.customer_id for t, _, _ in members})),
            hosts=tuple(sorted({names.get(t.host_id, t.host_id) for t, _, _ in members if t.host_id})),
            first_at=min(t.created_at for t, _, _ in members),
            last_at=max(t.resolved_at or t.created_at for t, _, _ in members),
            ticket_ids=tuple(t.id for t, _, _ in members),
        ))
    terms = [w for w in _SPACES.split(query.casefold()) if w]
    found = [p for p in out if p.matches(terms)]
    return sorted(found, key=lambda p: (-p.count, -p.last_at.timestamp(), p.problem))
