"""QR codes for the voter's printable receipt (issue 15, item 3), drawn by `segno`, a
maintained QR library, as inline SVG: no script and no image request, so the page's
Content-Security-Policy stays shut, and it prints sharp at any size."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str, title: str) -> Markup:
    """`text` as a QR code (error correction M), an `<svg>` element to put in a page. Its
    title (what a screen reader says) is escaped by segno."""
    code = segno.make(text, error="m", micro=False)
    return Markup(code.svg_inline(scale=4, border=4, title=title, svgclass="qr"))
