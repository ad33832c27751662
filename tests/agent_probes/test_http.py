from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from agent.probes.config import HttpProbeConfig
from agent.probes.http_endpoint import HttpProbe
from tests.agent_collectors.helpers import assert_catalogued, by_key
from tests.agent_probes.servers import CertFiles, closed_port, http_server


def run(*entries: str | dict[str, object], timeout: float = 5.0) -> dict[str, dict[str, float]]:
    """url -> {series field -> value} for one round."""
    probe = HttpProbe([HttpProbeConfig.model_validate(e) for e in entries], default_timeout=timeout)
    samples = probe.collect()
    assert_catalogued(samples)
    result: dict[str, dict[str, float]] = {}
    for (name, labels), value in by_key(samples).items():
        result.setdefault(dict(labels)["url"], {})[name.removeprefix("probe.http_")] = value
    return result


def test_expected_status_is_up_and_others_are_down(http_base: str) -> None:
    ok, fail, moved, missing = (f"{http_base}{p}" for p in ("/ok?x=1", "/fail", "/moved", "/missing"))
    result = run(ok, fail, moved, {"url": missing, "expect_status": 404})
    assert {url: (r["up"], r["status"]) for url, r in result.items()} == {
        ok: (1.0, 200.0),
        fail: (0.0, 503.0),
        moved: (0.0, 301.0),  # redirects are answers, not followed
        missing: (1.0, 404.0),
    }
    assert all(r["latency_ms"] > 0 for r in result.values())  # an answer always has a latency


def test_expect_status_503_is_up(http_base: str) -> None:
    url = f"{http_base}/fail"
    assert run({"url": url, "expect_status": 503})[url]["up"] == 1.0


def test_refused_connection_is_down_without_status_or_latency() -> None:
    url = f"http://127.0.0.1:{closed_port()}/health"
    assert run(url) == {url: {"up": 0.0}}


def test_a_server_that_never_answers_is_down_after_the_timeout() -> None:
    with http_server() as (base, release):
        url = f"{base}/hang"
        assert run(url, timeout=0.3) == {url: {"up": 0.0}}
        release.set()


def test_https_verified_against_a_ca_file(https_base: str, certs: dict[str, CertFiles]) -> None:
    url = f"{https_base}/ok"
    result = run({"url": url, "ca_file": str(certs["valid"].cert)})
    assert result[url]["up"] == 1.0 and result[url]["status"] == 200.0


def test_https_untrusted_certificate_is_down_unless_insecure(https_base: str) -> None:
    url = f"{https_base}/ok"
    assert run(url) == {url: {"up": 0.0}}  # self-signed, not in the system store
    assert run({"url": url, "insecure": True})[url]["up"] == 1.0


def test_https_with_an_expired_certificate_is_down(certs: dict[str, CertFiles]) -> None:
    with http_server(certs["expired"]) as (base, _):
        url = f"{base}/ok"
        assert run({"url": url, "ca_file": str(certs["expired"].cert)}) == {url: {"up": 0.0}}


def test_unloadable_ca_file_stops_the_agent_at_start() -> None:
    cfg = HttpProbeConfig.model_validate({"url": "https://127.0.0.1/", "ca_file": "/nonexistent/ca.pem"})
    with pytest.raises(ValueError, match=r"probes.http\[0\] \(https://127.0.0.1/\): cannot load the CA file"):
        HttpProbe([cfg])


@pytest.fixture
def hung_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Name resolution that blocks until the test ends, as a dead DNS server does (no timeout applies)."""
    release = threading.Event()
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, *args: object, **kwargs: object) -> object:
        if host.endswith(".hang.test"):
            calls.append(host)
            release.wait(30)
            raise socket.gaierror("released by the test")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield calls
    release.set()


def test_a_hung_name_lookup_cannot_hold_the_round(hung_resolver: list[str], http_base: str) -> None:
    hung, ok = "http://dns.hang.test/health", f"{http_base}/ok"
    configs = [HttpProbeConfig.model_validate({"url": hung, "timeout": 0.2}), HttpProbeConfig.model_validate(ok)]
    probe = HttpProbe(configs)
    first = by_key(probe.collect())
    assert first[("probe.http_up", (("url", hung),))] == 0.0
    assert first[("probe.http_up", (("url", ok),))] == 1.0  # the other endpoint is unaffected
    # Still stuck: reported down again without piling up another lookup.
    second = by_key(probe.collect())
    assert second[("probe.http_up", (("url", hung),))] == 0.0
    assert hung_resolver == ["dns.hang.test"]
