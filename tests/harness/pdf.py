"""A small PDF reader for tests (ISO 32000-1), enough to prove a generated PDF is well formed without a PDF library:
the header, the cross-reference table and trailer, every object where the table says it is, and the page contents
decoded (``ASCII85Decode`` and ``FlateDecode`` filters) to find the text shown on them."""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass

_OBJECT = re.compile(rb"(\d+) (\d+) obj\b(.*?)\bendobj", re.S)
_STREAM = re.compile(rb"\s*<<(.*?)>>\s*stream\r?\n", re.S)
_SHOWN = re.compile(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj")


@dataclass(frozen=True)
class Pdf:
    """What a PDF holds: its version (e.g. ``"1.3"``), its number of pages, each page's ``MediaBox`` in points
    (``[x0, y0, x1, y1]``) and the strings its pages show (``Tj`` operands, read as Windows-1252, the
    standard fonts' ``WinAnsiEncoding``)."""

    version: str
    pages: int
    media_boxes: list[list[float]]
    shown: list[str]


def read_pdf(data: bytes) -> Pdf:
    """Parse ``data`` as a PDF with a classic cross-reference table (as reportlab writes). Raises ``AssertionError``
    naming what is wrong: no ``%PDF-`` header or ``%%EOF`` end, ``startxref`` not pointing at the table, an
    object not at its offset, a trailer without ``/Root`` or with a ``/Size`` other than the table's, or an
    undecodable stream."""
    header = re.match(rb"%PDF-(\d\.\d)\r?\n", data)
    assert header, f"no PDF header: {data[:16]!r}"
    assert data.rstrip().endswith(b"%%EOF"), f"no %%EOF at the end: {data[-32:]!r}"
    start = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data)
    assert start, "no startxref before %%EOF"
    table_at = int(start.group(1))
    assert data[table_at:].startswith(b"xref"), f"startxref {table_at} does not point at a cross-reference table"
    table, _, rest = data[table_at + 4 :].partition(b"trailer")
    assert rest, "no trailer after the cross-reference table"
    lines, size, offsets = table.split(), 0, {}
    while lines:
        first, count, lines = int(lines[0]), int(lines[1]), lines[2:]
        for number in range(first, first + count):
            offset, _generation, kind, lines = int(lines[0]), lines[1], lines[2], lines[3:]
            if kind == b"n":
                offsets[number] = offset
        size = max(size, first + count)
    trailer = rest.split(b"startxref")[0]
    assert re.search(rb"/Root \d+ \d+ R", trailer), "the trailer names no /Root"
    declared = re.search(rb"/Size (\d+)", trailer)
    assert declared and int(declared.group(1)) == size, f"/Size is not {size}"
    objects = {}
    for number, offset in offsets.items():
        found = _OBJECT.match(data, offset)
        assert found and int(found.group(1)) == number, f"object {number} is not at offset {offset}"
        objects[number] = found.group(3)
    pages = [body for body in objects.values() if re.search(rb"/Type /Page\b(?!s)", body)]
    boxes = []
    shown: list[str] = []
    for page in pages:
        box = re.search(rb"/MediaBox \[\s*([-\d. ]+?)\s*\]", page)
        assert box, "a page without a MediaBox"
        boxes.append([float(v) for v in box.group(1).split()])
        contents = re.search(rb"/Contents (\d+) \d+ R", page)
        assert contents, "a page without contents"
        content = _stream(objects[int(contents.group(1))])
        shown += [_unescaped(text).decode("cp1252") for text in _SHOWN.findall(content)]
    return Pdf(header.group(1).decode(), len(pages), boxes, shown)


def _stream(body: bytes) -> bytes:
    """The decoded data of a stream object's ``body``: ``/Length`` bytes after ``stream``, then ``endstream``."""
    stream = _STREAM.match(body)
    assert stream, "page contents are not a stream"
    dictionary, begins = stream.group(1), stream.end()
    length = re.search(rb"/Length (\d+)", dictionary)
    assert length, "a stream without /Length"
    data = body[begins : begins + int(length.group(1))]
    assert re.match(rb"\s*endstream", body[begins + len(data) :]), "a stream not ending where /Length says"
    filters = re.findall(rb"/(ASCII85Decode|FlateDecode)", dictionary.split(b"/Filter", 1)[-1])
    for name in filters:
        if name == b"ASCII85Decode":
            data = base64.a85decode(data.strip(), adobe=True)
        else:
            data = zlib.decompress(data)
    return data


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescaped(literal: bytes) -> bytes:
    """A literal string's bytes, its backslash escapes (``\\ddd`` octal, ``\\n``, ``\\(`` ...) resolved."""
    return re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m[1], 8)]) if m[1][:1].isdigit() else _ESCAPES.get(m[1], m[1]),
        literal,
        flags=re.S,
    )
