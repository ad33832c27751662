"""The monthly report's executive summary: one A4 page in both languages, with the top risks and
what the provider will do next, even when every list on it is as long as the summary lets it be."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from inspections import builtin_library
from reports import Locale, MonthlyReport, html_to_pdf, render_html
from reports.model import HostRef, NextSteps, Recommendation, ScorePoint, TopRisk
from tests.reports.conftest import need, need_cjk_font
from tests.reports.dataset import TZ
from tests.reports.pdf_layout import Page, internal_identifiers, outside, overlapping, read_pages

LANGS = ("zh", "en")
HEADLINE = (5, 2)  # the summary's cap: five plans, at most two of a kind


def full(monthly: MonthlyReport) -> MonthlyReport:
    """The fixture's month at a large customer's scale: six months of scores, five top risks on
    long host names, and every kind of plan, with the catalogue's longest advice."""
    library = builtin_library()
    specs = sorted((library.get(c).spec for c in library.ids()),
                   key=lambda s: -len(s.recommendation.as_dict().get("zh", "")))
    end = monthly.header.period_end
    hosts = [HostRef(f"h{i}", f"prod-payment-gateway-db-primary-{i:02d}") for i in range(5)]
    risks = tuple(TopRisk("finding", h, s.name.as_dict(), "/var/lib/postgresql/15/main", "critical", 97.5, "%")
                  for h, s in zip(hosts[:3], specs, strict=False))
    risks += tuple(TopRisk("forecast", h, {"zh": "磁盘", "en": "Disk"}, "/srv/backup/archive", "warning", 91.2, "%",
                           end + timedelta(days=9 + i)) for i, h in enumerate(hosts[3:]))
    scores = tuple(ScorePoint(end - timedelta(days=30 * (6 - i)), 60 + 5 * i, "monthly", i) for i in range(6))
    fc = monthly.forecasts[0]
    recs = [Recommendation("capacity", 1, {"host": h.hostname, "what": {"zh": "磁盘 /srv/backup/archive",
                                                                        "en": "Disk /srv/backup/archive"},
                                           "eta": fc.eta, "eta_low": fc.eta_low}) for h in hosts[:3]]
    recs += [Recommendation("repeat", 2, {"host": h.hostname, "title": "数据库主库连接数超过上限导致应用报错",
                                          "count": 3}) for h in hosts[:3]]
    recs += [Recommendation("finding", 3, {"name": s.name.as_dict(), "hosts": 37}, text=s.recommendation.as_dict())
             for s in specs[:3]]
    recs += [Recommendation("long_open", 7, {"count": 12, "days": 30}),
             Recommendation("open_tickets", 7, {"count": 25})]
    steps = NextSteps(end + timedelta(days=30), monthly.forecasts, (), tuple(recs))
    return replace(monthly, top_risks=risks, score_trend=scores, next_steps=steps)


@pytest.fixture(scope="module")
def summaries(tmp_path_factory: pytest.TempPathFactory, monthly: MonthlyReport
              ) -> dict[tuple[str, str], tuple[MonthlyReport, list[Page]]]:
    need_cjk_font()
    pdftotext = need("pdftotext")
    out = tmp_path_factory.mktemp("summary")
    result = {}
    for name, report in (("fixture", monthly), ("full", full(monthly))):
        for lang in LANGS:
            path = out / f"{name}-{lang}.pdf"
            path.write_bytes(html_to_pdf(render_html(report, lang)))  # type: ignore[arg-type]
            result[(name, lang)] = (report, read_pages(Path(path), pdftotext))
    return result


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page_with(pages: list[Page], text: str) -> list[int]:
    return [p.number for p in pages if squeeze(text) in squeeze("".join(w.text for w in p.words))]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", ["fixture", "full"])
def test_the_monthly_summary_is_one_page_with_risks_and_next_steps(
        summaries: dict[tuple[str, str], tuple[MonthlyReport, list[Page]]], name: str, lang: str) -> None:
    report, pages = summaries[(name, lang)]
    loc = Locale(lang, TZ)  # type: ignore[arg-type]
    # Cover, contents, then the summary alone on page 3: section 2 starts on the next page.
    assert page_with(pages, f"1. {loc.t('summary')}")[-1] == 3
    assert page_with(pages, f"2. {loc.t('checks')}")[-1] == 4
    summary = pages[2]
    for heading in ("health_score", "score_trend", "top_risks", "next_we_do"):
        assert page_with([summary], loc.t(heading)), heading
    for risk in report.top_risks:
        assert page_with([summary], risk.host.hostname + "·" + loc.text(risk.name))
        if risk.eta is not None:
            assert page_with([summary], loc.t("risk_forecast", when=loc.date(risk.eta)))
    assert report.next_steps is not None
    plans = report.next_steps.headline(*HEADLINE)
    assert plans and len(plans) == min(HEADLINE[0], len(report.next_steps.recommendations))
    if name == "full":  # no kind crowds out the others
        assert [p.kind for p in plans] == ["capacity", "capacity", "repeat", "repeat", "finding"]
    for plan in plans:
        sentence = loc.fill("rec." + plan.kind, dict(plan.params, text=plan.text) if plan.text else plan.params)
        assert page_with([summary], sentence), sentence
    text = " ".join(w.text for w in summary.words)
    assert internal_identifiers(text) == []
    assert not outside(summary) and not overlapping(summary)
