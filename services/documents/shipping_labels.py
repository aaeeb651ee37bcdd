"""Shipping labels for PVS impressions sent by post: a one-page 4 x 6 inch PDF with a Code 128 barcode.

The label reads, top to bottom: the sender (the practice), the recipient (the lab), the shipping method in large
letters (white on black for express), the case's order number, the date and the contents, then the tracking number
as a Code 128 barcode (ISO/IEC 15417) with its digits below. 4 x 6 inches (101.6 x 152.4 mm) is the common size of
thermal shipping labels; the barcode's narrowest bar is 1.4 pt (0.49 mm, four dots of a 203 dpi printer).
"""

from __future__ import annotations

import io
import math
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

METHODS = ("standard", "express")
"""The shipping methods a label names."""

MAX_ADDRESS_LINES = 8
"""The most lines an address may have on a label."""

_PAGE = (4 * inch, 6 * inch)
_MARGIN = 14.0
_WIDTH = _PAGE[0] - 2 * _MARGIN
_FONT, _BOLD = "Helvetica", "Helvetica-Bold"
_SMALLEST = 0.7
_LEADING = 1.2
_CAPTION_SIZE = 7.0
_SENDER = (10.0, 9.0)
_RECIPIENT = (15.0, 13.0)
_ADDRESS_HEIGHT = 180.0
_TEXT_ENCODING = "cp1252"
_ELLIPSIS = "…"
_BAR_WIDTH = 1.4
_BAR_HEIGHT = 64.0
_QUIET_MODULES = 10
_TRACKING_PREFIX = "DP"
_TRACKING_DIGITS = 10


@dataclass(frozen=True)
class Address:
    """A postal address as printed: ``lines`` top to bottom, the name (practice or lab) first."""

    lines: tuple[str, ...]


def new_tracking_number() -> str:
    """A new tracking number: ``"DP"``, 10 digits drawn with :mod:`secrets` and a check digit, 13 characters, e.g.
    ``"DP04719388261"``. The check digit is the Luhn mod 10 digit of the 10 digits (ISO/IEC 7812-1 Annex B): from the
    rightmost digit leftwards, every other digit starting with the rightmost is doubled (9 subtracted when the result
    exceeds 9); the check digit makes the sum of all of them and itself a multiple of 10. It catches every single
    wrong digit and most swaps of neighbouring digits."""
    digits = "".join(secrets.choice("0123456789") for _ in range(_TRACKING_DIGITS))
    return f"{_TRACKING_PREFIX}{digits}{_luhn_digit(digits)}"


def render_label(
    *, lab: Address, practice: Address, order_number: str, tracking_number: str, method: str, created_at: datetime
) -> bytes:
    """The label as a one-page PDF (4 x 6 inches, 288 x 432 pt, portrait), ``lab`` the recipient and ``practice``
    the sender, dated with the calendar date of ``created_at`` as given (ISO 8601, ``YYYY-MM-DD``). The same
    arguments give the same bytes (reportlab's ``invariant`` mode: fixed creation date and document id).

    Text is set in Helvetica, one of the PDF standard fonts, which prints the characters of Windows-1252 (Latin-1
    and ``€ Œ Š Ž`` and the like: names such as "Hélène Müller" print as written). Any other character is printed
    as its base letter when it has one ("ő" as "o", "ș" as "s") and as ``?`` otherwise (e.g. CJK characters);
    control and other invisible characters (Unicode category C) become spaces. A line too long for the label is set
    smaller, then shortened with "…".

    Raises ValueError for an address with no line that is not blank or with more than :data:`MAX_ADDRESS_LINES`
    lines, a ``method`` not in :data:`METHODS`, an empty order number, and a tracking number that is empty or not
    printable ASCII (Code 128 encodes ASCII only)."""
    if method not in METHODS:
        raise ValueError(f"unknown shipping method {method!r}: one of {', '.join(METHODS)}")
    if not order_number.strip():
        raise ValueError("the order number is empty")
    if not tracking_number or not (tracking_number.isascii() and tracking_number.isprintable()):
        raise ValueError(f"the tracking number {tracking_number!r} is not printable ASCII")
    sender, recipient = _lines(practice, "practice"), _lines(lab, "lab")
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=_PAGE, invariant=1, pageCompression=1)
    canvas.setTitle(f"Shipping label {_printable(order_number)}")
    scale = min(1.0, _ADDRESS_HEIGHT / (_block_height(sender, *_SENDER) + _block_height(recipient, *_RECIPIENT)))
    y = _PAGE[1] - _MARGIN
    y = _block(canvas, y, "FROM", sender, *_SENDER, scale)
    y = _rule(canvas, y)
    y = _block(canvas, y, "TO", recipient, *_RECIPIENT, scale)
    y = _rule(canvas, y)
    y = _method_banner(canvas, y, method)
    y = _line(canvas, y - 18, f"Order {_printable(order_number)}", _BOLD, 13)
    y = _line(canvas, y - 4, f"Date {created_at.date().isoformat()}", _FONT, 10)
    _line(canvas, y - 4, "Contents: PVS impressions", _FONT, 10)
    _barcode(canvas, tracking_number)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _luhn_digit(digits: str) -> int:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return -total % 10


def _lines(address: Address, which: str) -> list[str]:
    lines = [_printable(line) for line in address.lines]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"the {which} address is empty")
    if len(lines) > MAX_ADDRESS_LINES:
        raise ValueError(f"the {which} address has {len(lines)} lines, more than {MAX_ADDRESS_LINES}")
    return lines


def _printable(text: str) -> str:
    """``text`` reduced to characters Helvetica prints, surrounding spaces removed."""
    return "".join(_printable_char(char) for char in text).strip()


def _printable_char(char: str) -> str:
    if unicodedata.category(char).startswith("C"):
        return " "
    if _encodable(char):
        return char
    base = "".join(
        part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part) and _encodable(part)
    )
    return base or "?"


def _encodable(char: str) -> bool:
    try:
        char.encode(_TEXT_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _fitted(text: str, font: str, size: float, width: float) -> tuple[str, float]:
    """``text`` and the font size it is set in to fit ``width`` (pt): ``size``, else smaller (to a tenth of a point)
    down to 70 % of it, else shortened with an ellipsis at that size."""
    natural = stringWidth(text, font, size)
    if natural <= width:
        return text, size
    smaller = max(size * _SMALLEST, math.floor(size * width / natural * 10) / 10)
    while stringWidth(text, font, smaller) > width and len(text) > 1:
        text = text[:-2] + _ELLIPSIS if text.endswith(_ELLIPSIS) else text[:-1] + _ELLIPSIS
    return text, smaller


def _line(canvas: Canvas, y: float, text: str, font: str, size: float) -> float:
    """Draw ``text`` left-aligned with its top at ``y``; returns the y below it."""
    text, size = _fitted(text, font, size, _WIDTH)
    canvas.setFont(font, size)
    canvas.drawString(_MARGIN, y - size, text)
    return y - size * _LEADING


def _block_height(lines: list[str], name_size: float, size: float) -> float:
    """The height :func:`_block` takes at scale 1."""
    return (_CAPTION_SIZE + name_size + size * (len(lines) - 1)) * _LEADING + 1


def _block(
    canvas: Canvas, y: float, caption: str, lines: list[str], name_size: float, size: float, scale: float
) -> float:
    """An address under its caption, the name in bold, font sizes times ``scale``; returns the y below it."""
    y = _line(canvas, y, caption, _BOLD, _CAPTION_SIZE * scale)
    y = _line(canvas, y - 1, lines[0], _BOLD, name_size * scale)
    for text in lines[1:]:
        y = _line(canvas, y, text, _FONT, size * scale)
    return y


def _rule(canvas: Canvas, y: float) -> float:
    y -= 6
    canvas.setLineWidth(1.5)
    canvas.line(_MARGIN, y, _PAGE[0] - _MARGIN, y)
    return y - 6


def _method_banner(canvas: Canvas, y: float, method: str) -> float:
    """The method in 30 pt capitals across the label, white on black for express; returns the y below it."""
    height = 42.0
    express = method == "express"
    canvas.setLineWidth(2)
    canvas.rect(_MARGIN, y - height, _WIDTH, height, stroke=1, fill=1 if express else 0)
    canvas.setFillGray(1 if express else 0)
    canvas.setFont(_BOLD, 30)
    canvas.drawCentredString(_PAGE[0] / 2, y - height + 11, method.upper())
    canvas.setFillGray(0)
    return y - height


def _barcode(canvas: Canvas, tracking_number: str) -> None:
    """The Code 128 symbol of ``tracking_number`` centred at the foot of the label, quiet zones of 10 modules
    (ISO/IEC 15417 §4.3.1), narrower bars when the symbol would not fit; its characters printed below."""
    bar_width = _BAR_WIDTH
    symbol = _code128(tracking_number, bar_width)
    if symbol.width > _PAGE[0]:
        bar_width *= _PAGE[0] / symbol.width
        symbol = _code128(tracking_number, bar_width)
    text_y = _MARGIN
    symbol.drawOn(canvas, (_PAGE[0] - symbol.width) / 2, text_y + 16)
    canvas.setFont(_BOLD, 12)
    canvas.drawCentredString(_PAGE[0] / 2, text_y, tracking_number)


def _code128(value: str, bar_width: float) -> Code128:
    quiet = _QUIET_MODULES * bar_width
    return Code128(
        value, barWidth=bar_width, barHeight=_BAR_HEIGHT, humanReadable=False, quiet=True, lquiet=quiet, rquiet=quiet
    )
