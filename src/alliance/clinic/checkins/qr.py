"""A QR code as inline SVG, made offline with the ``qrcode`` package.

Only the module matrix comes from ``qrcode``; the SVG markup is written here from numbers alone (plus an escaped
title), so nothing in it can carry markup from the encoded text and it is safe to embed in the page as it is.
"""

from __future__ import annotations

import qrcode
import qrcode.constants
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

__all__ = ["qr_svg"]


def qr_svg(data: str, *, title: str, size: int = 256) -> SafeString:
    """Return ``data`` as a QR code: an ``<svg role="img">`` of ``size`` pixels whose accessible name is ``title``."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()  # includes the quiet zone (border)
    width = len(matrix)
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < width:
            if row[x]:
                start = x
                while x < width and row[x]:
                    x += 1
                runs.append(f"M{start},{y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    label = escape(title)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {width}" width="{size:d}" height="{size:d}" '
        f'role="img" aria-label="{label}" shape-rendering="crispEdges"><title>{label}</title>'
        f'<rect width="{width}" height="{width}" fill="#ffffff"/><path fill="#000000" d="{"".join(runs)}"/></svg>'
    )
    # Safe: built above from integers and an escaped title only.
    return mark_safe(svg)
