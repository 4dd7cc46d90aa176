"""The supervision PDF: the analytics page's HTML rendered offline by WeasyPrint (needs Debian's Pango).

Nothing is fetched while rendering: every URL the HTML might name is refused, the stylesheets are read from the
package's own static folder, and the charts are inline SVG.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NoReturn

from alliance.errors import ResourceError

__all__ = ["render_pdf"]

STATIC = Path(__file__).resolve().parents[1] / "static" / "alliance"
PRINT_CSS = """
@page { size: A4; margin: 14mm 12mm; @bottom-right { content: "page " counter(page) " of " counter(pages);
        font-size: 8pt; color: #4a5561; } }
body { font-size: 9.5pt; }
.no-print, .topbar, .skip-link { display: none !important; }
.chart svg { width: 100%; height: auto; }
table { page-break-inside: auto; } tr { page-break-inside: avoid; }
section.card { page-break-inside: avoid; }
"""


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"the supervision PDF fetches nothing ({url[:40]})")


def render_pdf(html: str) -> bytes:
    """Return ``html`` as PDF bytes (A4, page numbers), with the app's stylesheets and no network access."""
    try:
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:  # OSError: Pango or its fonts are missing
        raise ResourceError(f"the PDF report needs WeasyPrint and Debian's Pango (make pdf-libs): {exc}") from None
    # The screen stylesheets hold rules print has no use for (media features, scrolling): WeasyPrint's notes on
    # skipping them are not worth a log line per download.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    stylesheets = [CSS(filename=str(STATIC / name)) for name in ("alliance.css", "pages.css")]
    stylesheets.append(CSS(string=PRINT_CSS))
    document = HTML(string=html, base_url=str(STATIC), url_fetcher=_refuse)
    pdf: bytes = document.write_pdf(stylesheets=stylesheets)
    return pdf
