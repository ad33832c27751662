"""Every route of the OpenAPI schema, walked with hostile values: the API answers 4xx, never 5xx.

The app is a real collector process (every service running) over a real SQLite store with hosts,
tickets, inspection runs, a report and a maintenance window. Each path and query parameter first
gets every listed hostile value in turn (the others set to something that exists), then hypothesis
combines hostile values in parameters and JSON bodies, derandomized so a failure repeats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http_hostile.app import ADMIN, Known, auth
from tests.http_hostile.hostile_values import HOSTILE_INTS, HOSTILE_STRINGS, json_value, query_value, resolve

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path" | "query"
    schema: dict[str, Any]
    required: bool


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    params: tuple[Param, ...]
    body: dict[str, Any] | None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass
class Failures:
    seen: list[str] = field(default_factory=list)

    def check(self, route: Route, url: str, params: dict[str, Any], body: Any, status: int, text: str) -> None:
        if status >= 500:
            self.seen.append(f"{route}: {status} for url={url[:200]!r} query={_short(params)} "
                             f"body={_short(body)} answer={text[:200]!r}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "…"


def routes_of(openapi: dict[str, Any]) -> list[Route]:
    components = openapi.get("components", {}).get("schemas", {})
    found: list[Route] = []
    for path, operations in sorted(openapi["paths"].items()):
        for method, op in sorted(operations.items()):
            params = tuple(Param(p["name"], p["in"], p.get("schema", {}), p.get("required", False))
                           for p in op.get("parameters", []) if p["in"] in ("path", "query"))
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            body = resolve(content["schema"], components) if content else None
            found.append(Route(method, path, params, body))
    return found


def known_values(param: Param, known: Known) -> tuple[str, ...]:
    by_name: dict[str, tuple[Any, ...]] = {
        "host": known.hosts, "ticket_id": known.tickets, "run_id": known.runs, "report_id": known.reports,
        "window_id": known.windows, "customer": ("acme",), "fmt": ("html",),
    }
    return tuple(str(v) for v in by_name.get(param.name, ()))


def ordinary_value(param: Param, known: Known) -> str:
    """Something that exists or parses, so that the hostile value in another parameter is what is tested."""
    real = known_values(param, known)
    if real:
        return real[0]
    if param.schema.get("enum"):
        return str(param.schema["enum"][0])
    return "1" if param.schema.get("type") == "integer" else "acme"


def send(client: httpx.Client, route: Route, values: dict[str, Any], body: Any, token: str | None,
         failures: Failures) -> None:
    """One request with ``values`` in the route's path and query parameters (and ``body``, if any)."""
    path_values = {p.name: values[p.name] for p in route.params if p.where == "path"}
    query = {p.name: values[p.name] for p in route.params if p.where == "query" and p.name in values}
    url = route.path
    for name, value in path_values.items():
        url = url.replace("{" + name + "}", quote(str(value), safe="") or "%20")
    headers = auth(token) if token else {}
    if route.body is not None and body is not _NO_BODY:
        # NaN and infinities as JSON parsers outside the standard write them; a strict server refuses them.
        headers["content-type"] = "application/json"
        kwargs: dict[str, Any] = {"params": query, "headers": headers, "content": json.dumps(body, allow_nan=True)}
    else:
        kwargs = {"params": query, "headers": headers}
    try:
        r = client.request(route.method.upper(), url, **kwargs)
    except httpx.TransportError as e:  # the server dropped the connection instead of answering
        failures.seen.append(f"{route}: no answer ({e!r}) for url={url[:200]!r} query={_short(query)}")
        return
    failures.check(route, url, query, body, r.status_code, r.text)


_NO_BODY = object()
HOSTILE_PARAMETER_VALUES = (*HOSTILE_STRINGS, *(str(i) for i in HOSTILE_INTS))


def test_the_schema_lists_the_routes_that_take_ids_and_times(api: tuple[httpx.Client, Known]) -> None:
    client, _ = api
    names = {(str(r), p.name) for r in routes_of(client.get("/openapi.json").json()) for p in r.params}
    assert ("GET /api/v1/tickets/{ticket_id}", "ticket_id") in names
    assert ("GET /api/v1/hosts/{host}/series/{metric}", "since") in names
    assert ("GET /api/v1/audit", "until") in names


def test_every_parameter_of_every_route_refuses_each_hostile_value_with_a_4xx(api: tuple[httpx.Client, Known]) -> None:
    client, known = api
    failures = Failures()
    for route in routes_of(client.get("/openapi.json").json()):
        if not route.params:
            send(client, route, {}, _NO_BODY, ADMIN, failures)
            continue
        base = {p.name: ordinary_value(p, known) for p in route.params if p.required or p.where == "path"}
        for param in route.params:
            for value in HOSTILE_PARAMETER_VALUES:
                send(client, route, {**base, param.name: value}, _NO_BODY, ADMIN, failures)
    assert failures.seen == [], "\n".join(failures.seen)


@pytest.mark.parametrize("token", [ADMIN, None], ids=["admin", "no-token"])
def test_generated_hostile_requests_never_get_a_5xx(api: tuple[httpx.Client, Known], token: str | None) -> None:
    client, known = api
    openapi = client.get("/openapi.json").json()
    components = openapi.get("components", {}).get("schemas", {})
    failures = Failures()
    for route in routes_of(openapi):
        _walk(client, known, route, components, token, failures)
    assert failures.seen == [], "\n".join(failures.seen)


def _walk(client: httpx.Client, known: Known, route: Route, components: dict[str, Any], token: str | None,
          failures: Failures) -> None:
    @settings(max_examples=25 if token else 5, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one_request(data: st.DataObject) -> None:
        values: dict[str, Any] = {}
        for p in route.params:
            if p.where == "path" or p.required or data.draw(st.booleans(), label=f"send {p.name}"):
                values[p.name] = data.draw(query_value(p.schema, known_values(p, known)), label=p.name)
        body = data.draw(json_value(route.body, components), label="body") if route.body is not None else _NO_BODY
        send(client, route, values, body, token, failures)

    one_request()
