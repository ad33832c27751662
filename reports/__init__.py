"""Reports: the monthly inspection report (巡检报告) and the quarterly health report (季度健康报告).

Pure: a report model in (:class:`MonthlyReport`, :class:`QuarterlyReport`, built by the collector
from its store), a document out::

    from reports import render

    pdf = render(model, "zh", "pdf")     # bytes; "html" gives one self-contained UTF-8 HTML file
"""

from reports.fonts import FontError
from reports.i18n import LANGS, QUARTERLY_HEADINGS, Lang, Locale
from reports.model import MonthlyReport, QuarterlyReport, Report, ReportHeader
from reports.periods import KINDS, Period, PeriodError, ReportKind
from reports.render import (
    FORMATS,
    MEDIA_TYPES,
    Format,
    RenderError,
    html_to_pdf,
    render,
    render_formats,
    render_html,
    render_pdf,
)

__all__ = [
    "FORMATS",
    "KINDS",
    "LANGS",
    "MEDIA_TYPES",
    "QUARTERLY_HEADINGS",
    "FontError",
    "Format",
    "Lang",
    "Locale",
    "MonthlyReport",
    "Period",
    "PeriodError",
    "QuarterlyReport",
    "RenderError",
    "Report",
    "ReportHeader",
    "ReportKind",
    "html_to_pdf",
    "render",
    "render_formats",
    "render_html",
    "render_pdf",
]
