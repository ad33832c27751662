"""The monthly report's checks section (巡检项): every check of every device with its status and observed
value, each check's thresholds stated once, a device's own threshold beside its value, in HTML and PDF."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC
from pathlib import Path

import pytest

from inspections import CATEGORY_TITLES, builtin_library
from reports import MonthlyReport, render_html
from reports.checks import ChecksOverview, overview
from reports.i18n import Locale
from reports.model import CATEGORY_ORDER, CategoryGroup, CheckRow, HostChecks, HostRef, Status
from reports.render import html_to_pdf
from tests.reports.conftest import need, need_cjk_font
from tests.reports.pdf_layout import internal_identifiers, outside, overlapping, read_pages

XHTML = "{http://www.w3.org/1999/xhtml}"
SKIPPED_EVERYWHERE = "security.tls_expiry"
SKIPPED_ON_ONE = "app.http_latency"
OVERRIDDEN = ("app-03", "resources.disk_space")  # judged at 70 / 80 % instead of 85 / 95 %


def _fleet(hosts: int = 12) -> tuple[HostChecks, ...]:
    """Every check of the built-in library on each of ``hosts`` devices: mostly ok, some warning,
    critical or unknown, two disks each, one device with a threshold of its own, skipped checks."""
    library = builtin_library()
    out = []
    for i in range(hosts):
        name = f"app-{i:02d}"
        skipped = [SKIPPED_EVERYWHERE] + ([SKIPPED_ON_ONE] if i == 5 else [])
        groups = []
        for category in CATEGORY_ORDER:
            rows = []
            for n, check_id in enumerate(library.ids()):
                spec = library.get(check_id).spec
                if spec.category != category or check_id in skipped:
                    continue
                warn, crit = spec.threshold.warn, spec.threshold.crit
                if (name, check_id) == OVERRIDDEN:
                    warn, crit = 70.0, 80.0
                for subject in (("/", "/data") if check_id == "resources.disk_space" else ("",)):
                    turn = (i * 7 + n * 3 + len(subject)) % 23
                    status: Status = ("critical" if turn == 0 else "warning" if turn in (1, 2)
                                      else "unknown" if turn == 3 else "ok")
                    observed = None if status == "unknown" else round(10.0 + (i * 13 + n * 5) % 70 + 0.25 * i, 2)
                    if (name, check_id, subject) == (*OVERRIDDEN, "/data"):  # a problem by its own threshold
                        status, observed = "warning", 75.0
                    rows.append(CheckRow(check_id=check_id, name=spec.name.as_dict(), subject=subject,
                                         status=status, observed=observed, unit=spec.unit, warn=warn, crit=crit,
                                         direction=spec.threshold.direction, severity="medium"))
            if rows:
                groups.append(CategoryGroup(category, dict(CATEGORY_TITLES[category]), tuple(rows)))  # type: ignore[index]
        statuses = [r.status for g in groups for r in g.rows]
        worst: Status = next((s for s in ("critical", "warning", "unknown") if s in statuses), "ok")  # type: ignore[misc]
        out.append(HostChecks(host=HostRef(f"h{i}", name), score=100 - 3 * i, status=worst, groups=tuple(groups),
                              skipped=tuple((c, "not configured") for c in skipped)))
    return tuple(out)


@pytest.fixture(scope="module")
def fleet_report(monthly: MonthlyReport) -> MonthlyReport:
    return replace(monthly, hosts=_fleet())


def _threshold(loc: Locale, warn: float | None, crit: float | None, direction: str, unit: str) -> str:
    """A threshold as the report writes it (the template's ``threshold`` macro)."""
    if warn is None and crit is None:
        return "—"
    parts = [f"{loc.t(word)} {loc.term('direction', direction)} {loc.measure(value, unit)}"
             for word, value in (("warn", warn), ("crit", crit)) if value is not None]
    return loc.t("sep").join(parts)


def _text(el: ET.Element) -> str:
    return " ".join(t.strip() for t in el.itertext() if t.strip())


def _squeeze(text: str) -> str:
    """Text without spaces and hyphens: a line may break anywhere in a sentence, and pdftotext joins
    a word broken after its hyphen ("Failed-" / "login") without it."""
    return re.sub(r"[\s-]+", "", text)


def test_overview_states_each_check_once_and_keeps_a_devices_own_threshold() -> None:
    hosts = _fleet()
    ov: ChecksOverview = overview(hosts)
    library = builtin_library()
    defined = [c.check_id for g in ov.groups for c in g.checks]
    applied = {r.check_id for hc in hosts for g in hc.groups for r in g.rows}
    assert len(defined) == len(set(defined)) and set(defined) == applied
    assert [g.category for g in ov.groups] == list(CATEGORY_ORDER)
    for g in ov.groups:
        for c in g.checks:
            spec = library.get(c.check_id).spec
            assert (c.warn, c.crit, c.direction) == (spec.threshold.warn, spec.threshold.crit, spec.threshold.direction)
            assert c.varies == (c.check_id == OVERRIDDEN[1])
    assert ov.skipped_everywhere == (SKIPPED_EVERYWHERE,)
    assert [d.checks.host.hostname for d in ov.devices] == [hc.host.hostname for hc in hosts]
    for d, hc in zip(ov.devices, hosts, strict=True):
        rows = [r for g in hc.groups for r in g.rows]
        assert sorted(map(id, (*d.problems, *d.ok))) == sorted(map(id, rows))
        assert all(p.status != "ok" for p in d.problems) and all(o.status == "ok" for o in d.ok)
        assert d.skipped == ((SKIPPED_ON_ONE,) if hc.host.hostname == "app-05" else ())
        own = {(hc.host.hostname, r.check_id) for r in rows if d.own_threshold(r)}
        assert own == ({OVERRIDDEN} if hc.host.hostname == OVERRIDDEN[0] else set())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_shows_every_check_of_every_device_and_each_threshold_once(fleet_report: MonthlyReport,
                                                                        lang: str) -> None:
    loc = Locale(lang, UTC)  # type: ignore[arg-type]
    root = ET.fromstring(render_html(fleet_report, lang))  # type: ignore[arg-type]
    section = next(el for el in root.iter(f"{XHTML}section") if el.get("id") == "checks")
    tables = [t for t in section.iter(f"{XHTML}table") if "checks" in (t.get("class") or "")]
    assert len(tables) == 1
    # 2.1: one row per check, its name and its common threshold; one row per category above them.
    rows = [[_text(td) for td in tr.iter(f"{XHTML}td")] for tr in tables[0].iter(f"{XHTML}tr")
            if tr.find(f"{XHTML}td") is not None and "group" not in (tr.get("class") or "")]
    library = builtin_library()
    ids = [c for c in library.ids() if c != SKIPPED_EVERYWHERE]
    assert [name for name, _ in rows] == [loc.text(library.get(c).spec.name.as_dict())
                                          for cat in CATEGORY_ORDER for c in ids if library.get(c).spec.category == cat]
    for (_, shown), check_id in zip(rows, [c for cat in CATEGORY_ORDER for c in ids
                                           if library.get(c).spec.category == cat], strict=True):
        spec = library.get(check_id).spec
        expected = _threshold(loc, spec.threshold.warn, spec.threshold.crit, spec.threshold.direction, spec.unit)
        assert shown.startswith(expected), (check_id, shown)
        assert (loc.t("threshold_varies") in shown) == (check_id == OVERRIDDEN[1])
    everywhere = loc.check_names([SKIPPED_EVERYWHERE])
    assert loc.t("skipped", items=everywhere) in _text(section)
    # 2.2: each device with its problems in a table and its ok checks in one paragraph.
    devices = [d for d in section.iter(f"{XHTML}div") if d.get("class") == "device"]
    assert len(devices) == len(fleet_report.hosts)
    warn_word = f"{loc.t('warn')} {loc.term('direction', 'above')}"
    for div, hc in zip(devices, fleet_report.hosts, strict=True):
        text = _text(div)
        assert text.startswith(hc.host.hostname)
        problems = [[_text(td) for td in tr.iter(f"{XHTML}td")] for tr in div.iter(f"{XHTML}tr")
                    if tr.find(f"{XHTML}td") is not None]
        paragraphs = [_text(p) for p in div.iter(f"{XHTML}p") if p.get("class") == "ok-items"]
        all_rows = [r for g in hc.groups for r in g.rows]
        bad = [r for r in all_rows if r.status != "ok"]
        good = [r for r in all_rows if r.status == "ok"]
        assert len(problems) == len(bad)
        for cells, row in zip(problems, bad, strict=True):
            assert cells[:3] == [loc.text(row.name), row.subject or "—", loc.term("status", row.status)]
            assert cells[3].startswith(loc.measure(row.observed, row.unit))
        assert len(paragraphs) == (1 if good else 0)
        if good:
            para = paragraphs[0]
            lead = loc.t("ok_rest" if bad else "ok_all", n=len(good), items="")
            assert para.startswith(lead.rstrip("。.").strip()), para
            for row in good:
                subject = f" {row.subject}" if row.subject else ""
                item = f"{loc.text(row.name)}{subject} {loc.measure(row.observed, row.unit)}"
                assert item in para, (hc.host.hostname, item)
        # No threshold is repeated per device, except one the device has of its own.
        own = hc.host.hostname == OVERRIDDEN[0]
        assert text.count(warn_word) == (2 if own else 0)  # its two disks
        if own:
            assert _threshold(loc, 70.0, 80.0, "above", "%") in text
        assert (loc.t("skipped", items=loc.check_names([SKIPPED_ON_ONE])) in text) == (hc.host.hostname == "app-05")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_shows_every_observed_value_and_lays_out_cleanly(fleet_report: MonthlyReport, lang: str,
                                                             tmp_path: Path) -> None:
    need_cjk_font()
    pdftotext = need("pdftotext")
    loc = Locale(lang, UTC)  # type: ignore[arg-type]
    pdf = tmp_path / f"fleet-{lang}.pdf"
    pdf.write_bytes(html_to_pdf(render_html(fleet_report, lang)))  # type: ignore[arg-type]
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=120).stdout
    # Without the running header and footer, which a paragraph broken across pages has in its middle.
    h = fleet_report.header
    furniture = {h.provider, f"{loc.period(h.period)} {loc.t('monthly_title')}"}
    page_of = re.compile(re.escape(loc.t("page_of")).replace(r"\{page\}", r"\d+").replace(r"\{pages\}", r"\d+"))
    text = "\n".join(line for line in text.replace("\f", "\n").splitlines()
                     if line.strip() not in furniture and not page_of.fullmatch(line.strip()))
    heading = f"2. {loc.t('checks')}"
    start = text.index(heading, text.index(heading) + 1)  # the section, after the contents' line
    section = _squeeze(text[start:text.index(f"3. {loc.t('findings')}", start)])
    cursor = 0
    for hc in fleet_report.hosts:  # in order: each device's name, then each of its checks' values
        cursor = section.index(_squeeze(hc.host.hostname + " · "), cursor)
        rows = [r for g in hc.groups for r in g.rows]
        end = min([section.find(_squeeze(h.host.hostname + " · "), cursor + 1) for h in fleet_report.hosts
                   if section.find(_squeeze(h.host.hostname + " · "), cursor + 1) > 0] or [len(section)])
        block = section[cursor:end]
        for r in rows:
            value = loc.measure(r.observed, r.unit)
            if r.status == "ok":  # in the sentence
                assert _squeeze(f"{loc.text(r.name)}{r.subject}{value}") in block, (hc.host.hostname, r)
            else:  # a table row; the right-aligned value may be read apart from the row's other cells
                shown = f"{loc.text(r.name)}{r.subject or '—'}{loc.term('status', r.status)}"
                assert _squeeze(shown) in block and _squeeze(value) in block, (hc.host.hostname, shown, value)
    pages = read_pages(pdf, pdftotext)
    problems = []
    for page in pages:
        problems += [f"page {page.number}: {w.text!r} leaves the page" for w in outside(page)]
        problems += [f"page {page.number}: {a.text!r} overlaps {b.text!r}" for a, b in overlapping(page)]
    assert not problems, "\n".join(problems[:20])
    assert internal_identifiers("\n".join(" ".join(w.text for w in p.words) for p in pages)) == []
    assert not [p.number for p in pages if len(p.words) < 12]
