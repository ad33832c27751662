"""The provider's branding and the customer's contract on the cover and in every page's footer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from collector.reporting.builder import ReportBuilder
from collector.reporting.config import ReportsConfig
from reports import Period
from reports.render import html_to_pdf, render_html
from tests.reports.conftest import need, need_cjk_font
from tests.reports.dataset import RETENTION, Dataset

LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60"><rect width="200" height="60" '
        'fill="#1e3a8a"/><text x="20" y="40" fill="white" font-size="28">HXLOGO</text></svg>')


def _config(tmp_path: Path, **branding: object) -> ReportsConfig:
    return ReportsConfig.model_validate({
        "provider": "华信技术服务部", "branding": branding,
        "customers": {"acme": {"contract": "HX-2026-017", "sla_level": "一级响应", "service_window": "7×24 小时"}}})


def test_cover_and_footer_carry_the_provider_and_the_contract(dataset: Dataset, tmp_path: Path) -> None:
    need_cjk_font()
    logo = tmp_path / "logo.svg"
    logo.write_text(LOGO)
    cfg = _config(tmp_path, logo=str(logo), hotline="400-800-1234", email="service@hx.example")
    report = ReportBuilder(dataset.engine, RETENTION, dataset.tickets_cfg, cfg, dataset.clock).build(
        "acme", Period.parse("2026-09"))
    html = render_html(report, "zh")  # type: ignore[arg-type]
    assert 'src="data:image/svg+xml;base64,' in html  # embedded: the report stays one file
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(html_to_pdf(html))
    pages = subprocess.run([need("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    cover = pages[0]
    for text in ("HXLOGO", "HX-2026-017", "一级响应", "7×24 小时", "400-800-1234 · service@hx.example"):
        assert text in cover, text
    body = [p for p in pages[1:] if p.strip()]
    assert body and all("华信技术服务部 · 400-800-1234" in p for p in body)


def test_a_logo_must_be_a_small_image_that_exists(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        _config(tmp_path, logo=str(tmp_path / "missing.png"))
    (tmp_path / "logo.gif").write_bytes(b"GIF89a")
    with pytest.raises(ValidationError, match="use a PNG, JPEG or SVG"):
        _config(tmp_path, logo=str(tmp_path / "logo.gif"))
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (600 * 1024))
    with pytest.raises(ValidationError, match="at most 512 KiB"):
        _config(tmp_path, logo=str(big))
