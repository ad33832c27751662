from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest

from agent.probes.config import TlsProbeConfig
from agent.probes.tls import CertificateError, TlsProbe, not_after_of_file
from tests.agent_collectors.helpers import assert_catalogued
from tests.agent_probes.servers import (
    CertFiles,
    closed_port,
    der_of,
    http_server,
    listening,
    make_cert,
    tls_server,
)

DAY = 86400.0


def days(targets: list[str | dict[str, object]], now: float, timeout: float = 5.0) -> dict[str, float]:
    probe = TlsProbe([TlsProbeConfig.model_validate(t) for t in targets], default_timeout=timeout, clock=lambda: now)
    samples = probe.collect()
    assert_catalogued(samples)
    return {dict(s.labels)["target"]: s.value for s in samples}


def test_certificate_files_expiring_and_expired(certs: dict[str, CertFiles]) -> None:
    valid, expired = certs["valid"], certs["expired"]
    # The clock is injected: exactly 12.5 days before the valid one expires.
    now = valid.not_after_unix - 12.5 * DAY
    result = days([str(valid.cert), str(expired.cert)], now)
    assert result[str(valid.cert)] == pytest.approx(12.5)
    assert result[str(expired.cert)] == pytest.approx((expired.not_after_unix - now) / DAY)
    assert result[str(expired.cert)] < 0  # negative once expired


def test_der_files_and_key_before_certificate(tmp_path: Path, certs: dict[str, CertFiles]) -> None:
    valid = certs["valid"]
    der = tmp_path / "site.der"
    der.write_bytes(der_of(valid.cert))
    combined = tmp_path / "site-with-key.pem"
    combined.write_bytes(valid.key.read_bytes() + valid.cert.read_bytes())
    now = valid.not_after_unix - 7 * DAY
    assert days([str(der), str(combined)], now) == {str(der): pytest.approx(7.0), str(combined): pytest.approx(7.0)}


def test_unreadable_certificates_give_no_sample(tmp_path: Path, certs: dict[str, CertFiles]) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    key_only = certs["valid"].key
    missing = tmp_path / "missing.pem"
    assert days([str(garbage), str(key_only), str(missing)], 0.0) == {}
    for path, fragment in ((garbage, "no readable certificate"), (missing, "cannot read")):
        with pytest.raises(CertificateError, match=fragment):
            not_after_of_file(path)


def test_endpoint_certificate_read_without_verification(certs: dict[str, CertFiles]) -> None:
    valid, expired = certs["valid"], certs["expired"]
    now = valid.not_after_unix - 20 * DAY
    with http_server(valid) as (good, _), http_server(expired) as (old, _):
        good_target, old_target = good.removeprefix("https://"), old.removeprefix("https://")
        result = days([good_target, {"endpoint": old_target, "server_name": "localhost"}], now)
    assert result[good_target] == pytest.approx(20.0)
    assert result[old_target] == pytest.approx((expired.not_after_unix - now) / DAY)


def test_endpoint_picks_the_certificate_for_its_sni_name(tmp_path: Path) -> None:
    soon = make_cert(tmp_path, "soon", not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=5), host="soon.test")
    later = make_cert(tmp_path, "later", not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=50), host="later.test")
    contexts = {}
    for name, files in (("soon.test", soon), ("later.test", later)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(files.cert, files.key)
        contexts[name] = ctx
    default = contexts["later.test"]

    def pick(sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        if server_name in contexts:
            sock.context = contexts[server_name]

    default.sni_callback = pick  # type: ignore[assignment]
    with tls_server(default) as port:
        target = f"127.0.0.1:{port}"
        now = soon.not_after_unix - 1 * DAY
        assert days([{"endpoint": target, "server_name": "soon.test"}], now)[target] == pytest.approx(1.0)
        assert days([target], now)[target] == pytest.approx((later.not_after_unix - now) / DAY)


def test_endpoint_that_does_not_answer_gives_no_sample() -> None:
    with listening() as port:  # accepts connections and never speaks: the handshake times out
        assert days([f"127.0.0.1:{port}", f"127.0.0.1:{closed_port()}"], 0.0, timeout=0.2) == {}
