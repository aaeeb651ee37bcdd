"""Shipping labels read back from their PDF bytes: one 4 x 6 inch page, every text on it, the barcode's bars decoded
as Code 128, accents and CJK names, the same bytes for the same inputs; tracking numbers and their check digit."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime

import pytest
from reportlab.graphics.barcode.code128 import _patterns as CODE128_PATTERNS

from services.documents.shipping_labels import (
    MAX_ADDRESS_LINES,
    METHODS,
    Address,
    new_tracking_number,
    render_label,
)

LAB = Address(("Doctor Portal Lab", "Receiving, Dock 2", "12 Rue des Aligneurs", "69007 Lyon", "FR"))
PRACTICE = Address(("Clinique Dentaire Hélène Müller", "3 Rue de la Paix", "75002 Paris", "France"))
CREATED = datetime(2025, 3, 4, 16, 30, tzinfo=UTC)
TRACKING = "DP04719388268"
BARCODE_TOP = 14 + 16 + 64
SYMBOLS = {pattern: value for value, pattern in CODE128_PATTERNS.items()}
START_A, START_B, START_C, STOP = 103, 104, 105, 106
TO_A, TO_B, TO_C = 101, 100, 99


def _label(**changes: object) -> bytes:
    arguments: dict[str, object] = {
        "lab": LAB,
        "practice": PRACTICE,
        "order_number": "ORD-2024-0042",
        "tracking_number": TRACKING,
        "method": "express",
        "created_at": CREATED,
    }
    return render_label(**(arguments | changes))  # type: ignore[arg-type]


def _content(pdf: bytes) -> bytes:
    """The page's content stream, decoded from ASCII85 and inflated (reportlab's ``/ASCII85Decode /FlateDecode``)."""
    (stream,) = re.findall(rb"/Filter \[ /ASCII85Decode /FlateDecode \].*?stream\r?\n(.*?)~>endstream", pdf, re.DOTALL)
    return zlib.decompress(base64.a85decode(stream))


def _text_positions(content: bytes) -> list[tuple[float, bytes]]:
    """(baseline y, shown text) of every text object."""
    found = re.findall(rb"BT 1 0 0 1 [\d.]+ ([\d.]+) Tm \((.*?)\) Tj", content)
    return [(float(y), text) for y, text in found]


def _decoded_barcode(content: bytes) -> str:
    """The characters the Code 128 symbol drawn in ``content`` encodes (ISO/IEC 15417: each symbol character is
    three bars and three spaces of 1 to 4 modules, the stop pattern four bars), its check character verified."""
    bars = [(float(x), float(w)) for x, w in re.findall(rb"n ([\d.]+) 0 ([\d.]+) [\d.]+ re f\*", content)]
    assert len(bars) > 30
    elements = []
    for (x, width), (next_x, _) in zip(bars, bars[1:], strict=False):
        elements += [width, next_x - x - width]
    elements.append(bars[-1][1])
    module = min(elements)
    widths = [round(element / module) for element in elements]
    assert all(1 <= width <= 4 for width in widths)
    letters = "".join(("ABCD" if index % 2 == 0 else "abcd")[width - 1] for index, width in enumerate(widths))
    values = [SYMBOLS[letters[start : start + 6]] for start in range(0, len(letters) - 7, 6)]
    assert SYMBOLS[letters[-7:]] == STOP
    *data, check = values
    assert check == (data[0] + sum(position * value for position, value in enumerate(data[1:], 1))) % 103
    return _characters(data)


def _characters(values: list[int]) -> str:
    start, *symbols = values
    code_set = {START_A: "A", START_B: "B", START_C: "C"}[start]
    text = ""
    for value in symbols:
        if code_set == "C" and value < 100:
            text += f"{value:02d}"
        elif value in (TO_A, TO_B, TO_C):
            code_set = {TO_A: "A", TO_B: "B", TO_C: "C"}[value]
        elif code_set == "B":
            text += chr(value + 32)
        else:
            text += chr(value + 32) if value < 64 else chr(value - 64)
    return text


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = int(digit) * 2 if position % 2 == 1 else int(digit)
        total += doubled // 10 + doubled % 10
    return total % 10 == 0


def test_the_label_is_one_4_by_6_inch_pdf_page() -> None:
    pdf = _label()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1
    assert re.search(rb"/Count 1\b", pdf)
    assert re.search(rb"/MediaBox \[ 0 0 288 432 \]", pdf)


@pytest.mark.parametrize("method", METHODS)
def test_every_text_of_the_label_is_on_it(method: str) -> None:
    content = _content(_label(method=method))
    texts = [text for _, text in _text_positions(content)]
    assert b"Order ORD-2024-0042" in texts
    assert TRACKING.encode() in texts
    assert method.upper().encode() in texts
    assert b"Date 2025-03-04" in texts
    for line in (*LAB.lines, *PRACTICE.lines[1:]):
        assert line.encode() in texts
    assert b"Clinique Dentaire H\\351l\\350ne M\\374ller" in texts


def test_the_barcode_encodes_the_tracking_number() -> None:
    assert _decoded_barcode(_content(_label())) == TRACKING
    assert _decoded_barcode(_content(_label(tracking_number="DP00000000000"))) == "DP00000000000"


def test_characters_helvetica_lacks_are_replaced_not_crashing() -> None:
    practice = Address(("山田歯科医院", "Erdős Pál\tFogászat", "東京都 1-2-3"))
    pdf = _label(practice=practice)
    texts = [text for _, text in _text_positions(_content(pdf))]
    assert b"??????" in texts
    assert b"Erdos P\\341l Fog\\341szat" in texts
    assert b"??? 1-2-3" in texts
    assert re.findall(rb"/BaseFont /([\w-]+)", pdf) == [b"Helvetica", b"Helvetica-Bold"]


def test_long_lines_shrink_or_shorten_and_many_lines_stay_above_the_barcode() -> None:
    long_name = "Centre Orthodontique et Dentaire Universitaire des Hôpitaux Réunis de la Métropole"
    lab = Address((long_name, *(f"Line {number} of the lab" for number in range(2, MAX_ADDRESS_LINES + 1))))
    practice = Address((long_name, *(f"Line {number} of the practice" for number in range(2, MAX_ADDRESS_LINES + 1))))
    positions = _text_positions(_content(_label(lab=lab, practice=practice)))
    above = [y for y, text in positions if text != TRACKING.encode()]
    assert len(above) == 2 * MAX_ADDRESS_LINES + 2 + 4
    assert min(above) > BARCODE_TOP
    assert max(above) < 432
    heights = sorted(above, reverse=True)
    assert all(upper - lower >= 5 for upper, lower in zip(heights, heights[1:], strict=False))
    whole = b"Centre Orthodontique et Dentaire Universitaire des H\\364pitaux R\\351unis de la M\\351tropole"
    sender_name, lab_name = (text for _, text in positions if text.startswith(b"Centre"))
    assert sender_name == whole
    assert lab_name.endswith(b"\\205") and whole.startswith(lab_name.removesuffix(b"\\205"))


def test_the_same_inputs_give_the_same_bytes() -> None:
    assert _label() == _label()
    assert _label() != _label(created_at=datetime(2025, 3, 5, tzinfo=UTC))
    assert _label() != _label(method="standard")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lab": Address(())}, "the lab address is empty"),
        ({"practice": Address(("  ", ""))}, "the practice address is empty"),
        ({"lab": Address(tuple(f"line {n}" for n in range(9)))}, "9 lines, more than 8"),
        ({"method": "overnight"}, "unknown shipping method 'overnight'"),
        ({"order_number": " "}, "the order number is empty"),
        ({"tracking_number": ""}, "is not printable ASCII"),
        ({"tracking_number": "DP-ü"}, "is not printable ASCII"),
    ],
)
def test_bad_arguments_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _label(**changes)


def test_tracking_numbers_are_unique_and_their_check_digit_verifies() -> None:
    numbers = [new_tracking_number() for _ in range(1000)]
    assert len(set(numbers)) == 1000
    assert all(re.fullmatch(r"DP\d{11}", number) for number in numbers)
    assert all(_luhn_valid(number[2:]) for number in numbers)
    assert len({number[-1] for number in numbers}) == 10
    assert _luhn_valid(TRACKING[2:])
    assert not _luhn_valid("04719388261")
    assert not _luhn_valid("04719838268")
