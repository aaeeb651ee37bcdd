"""The type of a record file, decided from its bytes (never its name) while it streams through.

An upload route sniffs the first bytes (:func:`sniff`, at most :data:`PREFIX_BYTES`) to refuse a type its slot does
not take (:data:`SLOT_KINDS`, :func:`refusal_for`) before anything is stored, then passes every byte, from the first,
through a :class:`ContentInspector`, which at the end says whether the file is whole and what it holds
(:class:`Content`) or why it is refused (:class:`ContentRefused`). The inspector keeps a bounded part of the file: its
first bytes (:data:`PREFIX_BYTES`, up to :data:`HEADER_BYTES` for the types whose header can be longer), its last
:data:`TAIL_BYTES` and running counters; a 300 MB scan never sits in memory.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zlib
from dataclasses import dataclass

import pillow_heif
import pydicom
from PIL import JpegImagePlugin

from shared.events.orders import PHOTO_SLOTS, SCAN_SLOTS

PREFIX_BYTES = 65536
"""How many first bytes :func:`sniff` reads at most, and the inspector keeps for most types."""

HEADER_BYTES = 1 << 20
"""How many first bytes the inspector keeps for JPEG, HEIC and DICOM, whose headers (EXIF, ICC profiles, the HEIF
``meta`` box, DICOM data elements before the pixel data) may run past :data:`PREFIX_BYTES`."""

TAIL_BYTES = 65535 + 22
"""How many last bytes the inspector keeps: enough for a ZIP end of central directory record (22 bytes) behind the
longest archive comment (65,535 bytes), APPNOTE.TXT §4.3.16."""

KINDS: dict[str, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "heic": "HEIC",
    "stl": "STL",
    "ply": "PLY",
    "obj": "OBJ",
    "dicom": "DICOM",
    "pdf": "PDF",
    "zip": "ZIP",
}
"""Every kind of file the portal stores → the name a doctor knows it by, in the order refusals list them."""

CONTENT_TYPES: dict[str, str] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "heic": "image/heic",
    "stl": "model/stl",
    "ply": "model/x-ply",
    "obj": "model/obj",
    "dicom": "application/dicom",
    "pdf": "application/pdf",
    "zip": "application/zip",
}
"""Kind → media type: the IANA registered one (RFC 2046 registry), ``model/x-ply`` for PLY, which has none."""

_PHOTOS = frozenset({"jpeg", "png", "heic"})
_SCANS = frozenset({"stl", "ply", "obj"})
_XRAYS = frozenset({"jpeg", "png", "dicom"})

SLOT_KINDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(PHOTO_SLOTS, _PHOTOS),
    **dict.fromkeys((*SCAN_SLOTS, "scan.bite"), _SCANS),
    "xray.panoramic": _XRAYS,
    "xray.cephalometric": _XRAYS,
    "other": frozenset({"pdf", "zip"}),
    "setup": frozenset({"zip", "pdf", "stl", "ply", "obj"}),
    "scan.render": frozenset({"jpeg", "png"}),
    "shipping_label": frozenset({"pdf"}),
}
"""Slot → the kinds of :data:`KINDS` it takes: every record slot (``shared.events.documents.RECORD_SLOTS``) and the
lab's slots ``setup`` (a treatment setup's viewer file), ``scan.render`` (a scanner's render image) and
``shipping_label``."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_OBJ_KEYWORDS = frozenset({b"v", b"vn", b"vt", b"vp", b"f", b"l", b"p", b"o", b"g", b"s", b"mtllib", b"usemtl"})
_OBJ_LINES_SNIFFED = 20
_STL_TRIANGLES_SNIFFED = 20
_STL_COORDINATE_LIMIT = 1e9
_LINE_BYTES = 1024
_PDF_EOF_BYTES = 1024
_BINARY_BYTES = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\x1a") + b"\x7f"
_PLY_SCALAR_BYTES = {
    "char": 1,
    "int8": 1,
    "uchar": 1,
    "uint8": 1,
    "short": 2,
    "int16": 2,
    "ushort": 2,
    "uint16": 2,
    "int": 4,
    "int32": 4,
    "uint": 4,
    "uint32": 4,
    "float": 4,
    "float32": 4,
    "double": 8,
    "float64": 8,
}
_PLY_FORMATS = frozenset({"ascii", "binary_little_endian", "binary_big_endian"})
_PLY_FACE_INDEX_LISTS = frozenset({"vertex_indices", "vertex_index"})


class ContentRefused(Exception):
    """A file whose content is not what it must be; ``reason`` (also ``str(exc)``) is one sentence for the doctor,
    e.g. "the file is empty"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Content:
    """What a whole, checked file holds.

    ``kind`` is a key of :data:`KINDS`, ``content_type`` its media type (:data:`CONTENT_TYPES`). ``facts`` are what
    the check found, JSON-serialisable: JPEG, PNG and HEIC ``width`` and ``height`` (pixels, as stored, before any
    EXIF orientation); STL ``triangles`` and ``encoding`` (``"binary"`` or ``"ascii"``); PLY ``vertices``, ``faces``
    and ``encoding`` (its format line: ``"ascii"``, ``"binary_little_endian"`` or ``"binary_big_endian"``); OBJ
    ``vertices`` and ``faces``; DICOM ``modality`` (e.g. ``"PX"``), ``rows`` and ``columns`` when present; PDF
    ``version`` (e.g. ``"1.7"``); ZIP ``entries`` unless the archive is ZIP64.
    """

    kind: str
    content_type: str
    facts: dict[str, int | str]


def sniff(prefix: bytes) -> str | None:
    """The kind (a key of :data:`KINDS`) of a file from its first bytes, None when no kind matches.

    ``prefix`` is the file's first :data:`PREFIX_BYTES` bytes, or all of it when shorter; fewer bytes can miss a
    kind. Rules: JPEG SOI marker ``FF D8 FF`` (ITU-T T.81 §B.1.1.3); PNG signature (ISO/IEC 15948 §5.2); HEIC an
    ISO BMFF ``ftyp`` box at offset 4 (ISO/IEC 14496-12 §4.3) naming a HEIF brand, major or compatible (ISO/IEC
    23008-12 Annex B); DICOM ``DICM`` after the 128-byte preamble (DICOM PS3.10 §7.1); PDF ``%PDF-`` (ISO 32000-1
    §7.5.2); ZIP a local file header or an end of central directory signature (APPNOTE.TXT §4.3.7, §4.3.16); PLY
    ``ply`` as the first line; STL text starting with ``solid`` (whether ASCII or a binary STL whose 80-byte header
    starts so; :class:`ContentInspector` tells them apart), or binary data whose triangle records (after an 80-byte
    header and a uint32 LE count, 50 bytes each) hold finite coordinates; OBJ text whose first non-blank,
    non-comment lines all start with an OBJ keyword (Wavefront OBJ, Appendix B1).
    """
    if prefix.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if prefix.startswith(_PNG_SIGNATURE):
        return "png"
    if _is_heif(prefix):
        return "heic"
    if prefix[128:132] == b"DICM":
        return "dicom"
    if prefix.startswith(b"%PDF-"):
        return "pdf"
    if prefix.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if prefix.startswith((b"ply\n", b"ply\r\n")):
        return "ply"
    if prefix.lstrip(b" \t\r\n").startswith(b"solid"):
        return "stl"
    if _is_text(prefix):
        return "obj" if _is_obj(prefix) else None
    return "stl" if _is_binary_stl(prefix) else None


def refusal_for(slot: str, kind: str | None) -> str:
    """The message refusing a file of ``kind`` (a key of :data:`KINDS`, None when :func:`sniff` found none) for
    ``slot``, e.g. "slot photo.face_frontal takes JPEG, PNG or HEIC files; this file is STL". Raises ``KeyError`` for a
    slot not in :data:`SLOT_KINDS` or a kind not in :data:`KINDS`."""
    taken = _listed([name for key, name in KINDS.items() if key in SLOT_KINDS[slot]])
    found = "the type of this file was not recognised" if kind is None else f"this file is {KINDS[kind]}"
    return f"slot {slot} takes {taken} files; {found}"


class ContentInspector:
    """Checks one file whose bytes arrive in chunks of any size, from the first byte on, without holding it whole.

    It keeps the first :data:`PREFIX_BYTES` (:data:`HEADER_BYTES` for JPEG, HEIC and DICOM), the last
    :data:`TAIL_BYTES` and, for text formats, line counters that carry at most a line's first bytes across chunks.
    Feed every chunk with :meth:`feed`, then call :meth:`finish` once.
    """

    def __init__(self) -> None:
        self._size = 0
        self._prefix = bytearray()
        self._prefix_limit = PREFIX_BYTES
        self._tail = bytearray()
        self._decided = False
        self._kind: str | None = None
        self._lines: _LineCounter | None = None

    @property
    def size(self) -> int:
        """How many bytes were fed so far."""
        return self._size

    def feed(self, chunk: bytes) -> None:
        """Take the next ``chunk`` of the file (any length, empty ones included)."""
        self._size += len(chunk)
        self._keep_tail(chunk)
        if not self._decided:
            room = PREFIX_BYTES - len(self._prefix)
            self._prefix += chunk[:room]
            if len(self._prefix) < PREFIX_BYTES:
                return
            self._decide()
            chunk = chunk[room:]
        room = self._prefix_limit - len(self._prefix)
        if room > 0:
            self._prefix += chunk[:room]
        if self._lines is not None:
            self._lines.feed(chunk)

    def finish(self) -> Content:
        """The file's :class:`Content` once every byte was fed.

        Raises :class:`ContentRefused` for an empty file, a type :func:`sniff` does not know, or a file that is not
        whole or not well formed: a binary STL whose size is not 84 + 50 × its triangle count (truncated or padded)
        or that has no triangles; an ASCII STL that does not end with ``endsolid``, has no facet or not 3 vertices a
        facet; a PLY whose header is incomplete or declares no vertices, or whose body is shorter than its header
        declares; an OBJ with fewer than 3 vertices or no face; a PNG without IHDR first or IEND last; a JPEG without
        a frame header in its first :data:`HEADER_BYTES`; a HEIC whose ``meta`` box libheif cannot read from its first
        :data:`HEADER_BYTES`; a DICOM pydicom cannot read; a PDF without ``%%EOF`` in its last 1 KiB; a ZIP without a
        local file header first or an end of central directory record last.
        """
        if self._size == 0:
            raise ContentRefused("the file is empty")
        if not self._decided:
            self._decide()
        if self._lines is not None:
            self._lines.flush()
        if self._kind is None:
            raise ContentRefused(f"this is not a {_listed(list(KINDS.values()))} file")
        prefix = bytes(self._prefix)
        tail = bytes(self._tail[-TAIL_BYTES:])
        facts = _CHECKS[self._kind](prefix, tail, self._size, self._lines)
        return Content(self._kind, CONTENT_TYPES[self._kind], facts)

    def _keep_tail(self, chunk: bytes) -> None:
        if len(chunk) >= TAIL_BYTES:
            self._tail = bytearray(chunk[-TAIL_BYTES:])
            return
        self._tail += chunk
        if len(self._tail) > 2 * TAIL_BYTES:
            del self._tail[:-TAIL_BYTES]

    def _decide(self) -> None:
        self._decided = True
        prefix = bytes(self._prefix)
        self._kind = sniff(prefix)
        if self._kind in ("jpeg", "heic", "dicom"):
            self._prefix_limit = HEADER_BYTES
        self._lines = _line_counter(self._kind, prefix)
        if self._lines is not None:
            self._lines.feed(prefix)


class _LineCounter:
    """Counts the lines matching each pattern (``re.MULTILINE``, anchored at a line start) over chunks, carrying the
    first :data:`_LINE_BYTES` of an unfinished line to the next chunk."""

    def __init__(self, patterns: dict[str, bytes]) -> None:
        self._patterns = {name: re.compile(pattern, re.MULTILINE) for name, pattern in patterns.items()}
        self.counts = dict.fromkeys(patterns, 0)
        self._carry = b""

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        end = data.rfind(b"\n") + 1
        if end:
            self._count(data[:end])
        self._carry = data[end:][:_LINE_BYTES]

    def flush(self) -> None:
        self._count(self._carry + b"\n")
        self._carry = b""

    def _count(self, lines: bytes) -> None:
        for name, pattern in self._patterns.items():
            self.counts[name] += len(pattern.findall(lines))


def _line_counter(kind: str | None, prefix: bytes) -> _LineCounter | None:
    if kind == "stl" and _is_text(prefix):
        return _LineCounter({"facets": rb"^[ \t]*facet\b", "vertices": rb"^[ \t]*vertex\b"})
    if kind == "obj":
        return _LineCounter({"vertices": rb"^[ \t]*v[ \t]", "faces": rb"^[ \t]*f[ \t]"})
    if kind == "ply" and re.search(rb"^format[ \t]+ascii\b", prefix, re.MULTILINE):
        return _LineCounter({"records": rb"^[ \t]*[-+.0-9]"})
    return None


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _is_text(data: bytes) -> bool:
    return len(data.translate(None, _BINARY_BYTES)) == len(data)


def _is_heif(prefix: bytes) -> bool:
    if prefix[4:8] != b"ftyp" or len(prefix) < 12:
        return False
    (box_size,) = struct.unpack_from(">I", prefix)
    brands = [prefix[8:12]] + [prefix[at : at + 4] for at in range(16, min(box_size, len(prefix)) - 3, 4)]
    return any(brand in _HEIF_BRANDS for brand in brands)


def _is_obj(prefix: bytes) -> bool:
    meaningful = []
    for line in prefix.split(b"\n")[:-1]:
        words = line.split()
        if words and not words[0].startswith(b"#"):
            meaningful.append(words[0])
        if len(meaningful) == _OBJ_LINES_SNIFFED:
            break
    return bool(meaningful) and all(word in _OBJ_KEYWORDS for word in meaningful)


def _is_binary_stl(prefix: bytes) -> bool:
    if len(prefix) < 84:
        return False
    (count,) = struct.unpack_from("<I", prefix, 80)
    if count == 0:
        return len(prefix) == 84
    if _is_text(prefix[84:]):
        return False
    sampled = min(count, (len(prefix) - 84) // 50, _STL_TRIANGLES_SNIFFED)
    if sampled == 0:
        return False
    for index in range(sampled):
        values = struct.unpack_from("<12f", prefix, 84 + 50 * index)
        if not all(math.isfinite(value) and abs(value) < _STL_COORDINATE_LIMIT for value in values):
            return False
    return True


def _check_stl(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """STL binary layout: 80-byte header, uint32 LE triangle count, 50 bytes a triangle; ASCII: ``solid``,
    ``facet``/``outer loop``/3 ``vertex``/``endloop``/``endfacet`` blocks, ``endsolid`` (3D Systems, StereoLithography
    Interface Specification, 1989)."""
    declared = struct.unpack_from("<I", prefix, 80)[0] if len(prefix) >= 84 else None
    if declared is not None and size == 84 + 50 * declared:
        if declared == 0:
            raise ContentRefused("the STL file has no triangles")
        return {"triangles": declared, "encoding": "binary"}
    if lines is not None:
        return _check_ascii_stl(tail, lines)
    if declared is None:
        raise ContentRefused(f"the STL file is truncated: it has {size:,} bytes, fewer than its 84-byte header")
    expected = 84 + 50 * declared
    state = "truncated" if size < expected else "damaged"
    raise ContentRefused(
        f"the STL file is {state}: its header declares {declared:,} triangles ({expected:,} bytes) "
        f"but it has {size:,} bytes"
    )


def _check_ascii_stl(tail: bytes, lines: _LineCounter) -> dict[str, int | str]:
    last_line = tail.rstrip().rsplit(b"\n", 1)[-1].strip()
    if not last_line.startswith(b"endsolid"):
        raise ContentRefused("the ASCII STL file is truncated: it does not end with endsolid")
    facets, vertices = lines.counts["facets"], lines.counts["vertices"]
    if facets == 0:
        raise ContentRefused("the ASCII STL file has no facets")
    if vertices != 3 * facets:
        raise ContentRefused(f"the ASCII STL file is damaged: it has {facets:,} facets but {vertices:,} vertices")
    return {"triangles": facets, "encoding": "ascii"}


@dataclass
class _PlyElement:
    name: str
    count: int
    least_record_bytes: int = 0


def _check_ply(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """PLY (Greg Turk, "The PLY Polygon File Format", 1994): a text header ``ply``, ``format``, ``element`` and
    ``property`` lines, ``end_header``; then the elements' records, one a line (ASCII) or packed (binary)."""
    found = re.search(rb"^end_header[ \t]*\r?\n", prefix, re.MULTILINE)
    if found is None:
        raise ContentRefused(
            f"the PLY header is incomplete: it has no end_header line in its first {PREFIX_BYTES:,} bytes"
        )
    encoding, elements = _parse_ply_header(prefix[: found.start()].decode("latin-1"))
    counts = {element.name: element.count for element in elements}
    if not counts.get("vertex"):
        raise ContentRefused("the PLY file has no vertices: its header has no element vertex line with a count")
    declared = f"{counts['vertex']:,} vertices and {counts.get('face', 0):,} faces"
    if lines is not None:
        records = sum(counts.values())
        if lines.counts["records"] < records:
            raise ContentRefused(
                f"the PLY file is truncated: its header declares {declared} ({records:,} lines) "
                f"but it has {lines.counts['records']:,}"
            )
    else:
        least = sum(element.count * element.least_record_bytes for element in elements)
        body = size - found.end()
        if body < least:
            raise ContentRefused(
                f"the PLY file is truncated: its header declares {declared} (at least {least:,} bytes after the "
                f"header) but it has {body:,}"
            )
    return {"vertices": counts["vertex"], "faces": counts.get("face", 0), "encoding": encoding}


def _parse_ply_header(header: str) -> tuple[str, list[_PlyElement]]:
    encoding = None
    elements: list[_PlyElement] = []
    for line in header.splitlines()[1:]:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) == 3 and words[1] in _PLY_FORMATS:
            encoding = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append(_PlyElement(words[1], int(words[2])))
        elif words[0] == "property" and elements:
            elements[-1].least_record_bytes += _ply_property_bytes(elements[-1].name, words[1:])
        else:
            raise ContentRefused(f"the PLY header is damaged: it has the line {line.strip()!r}")
    if encoding is None:
        raise ContentRefused(
            "the PLY header is damaged: it has no format ascii, binary_little_endian or binary_big_endian line"
        )
    return encoding, elements


def _ply_property_bytes(element: str, words: list[str]) -> int:
    """The fewest bytes a binary record spends on one property: its scalar, or a list's count (plus 3 indices for a
    face's vertex list, a polygon having 3 vertices at least)."""
    if len(words) == 2 and words[0] in _PLY_SCALAR_BYTES:
        return _PLY_SCALAR_BYTES[words[0]]
    if len(words) == 4 and words[0] == "list" and words[1] in _PLY_SCALAR_BYTES and words[2] in _PLY_SCALAR_BYTES:
        least_items = 3 if element == "face" and words[3] in _PLY_FACE_INDEX_LISTS else 0
        return _PLY_SCALAR_BYTES[words[1]] + least_items * _PLY_SCALAR_BYTES[words[2]]
    raise ContentRefused(f"the PLY header is damaged: it has the property {' '.join(words)!r}")


def _check_obj(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """OBJ (Wavefront, Advanced Visualizer manual, Appendix B1): ``v x y z`` vertex lines, ``f i j k ...`` faces."""
    assert lines is not None
    vertices, faces = lines.counts["vertices"], lines.counts["faces"]
    if vertices < 3 or faces < 1:
        raise ContentRefused(
            f"the OBJ file has {vertices:,} vertices and {faces:,} faces; a scan needs at least 3 vertices and 1 face"
        )
    return {"vertices": vertices, "faces": faces}


def _check_png(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """PNG (ISO/IEC 15948): signature (§5.2), IHDR first (§5.6, §11.2.2: width and height uint32 BE, CRC-32 over
    type and data), IEND last (§11.2.5)."""
    header = prefix[8:33]
    if len(header) < 25 or header[:8] != b"\x00\x00\x00\x0dIHDR":
        raise ContentRefused("the PNG file is damaged: it does not start with an image header (IHDR)")
    if zlib.crc32(header[4:21]) != struct.unpack_from(">I", header, 21)[0]:
        raise ContentRefused("the PNG file is damaged: its image header (IHDR) fails its checksum")
    if not tail.endswith(_PNG_IEND):
        raise ContentRefused("the PNG file is truncated: it does not end with an image end chunk (IEND)")
    width, height = struct.unpack_from(">II", header, 8)
    return _pixels_checked("PNG", width, height)


MAX_PIXELS = 200_000_000
"""Largest image accepted, in pixels (width x height): past it no photo viewer or thumbnail can decode it safely."""


def _pixels_checked(kind: str, width: int, height: int) -> dict[str, int | str]:
    if width * height > MAX_PIXELS:
        raise ContentRefused(
            f"the {kind} image declares {width:,} x {height:,} pixels; at most {MAX_PIXELS:,} pixels are accepted"
        )
    return {"width": width, "height": height}


def _check_jpeg(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """JPEG (ITU-T T.81 §B.2.2): the frame header (SOF) gives the size, read by Pillow from the first bytes; the file
    must end with the end-of-image marker ``FF D9`` (§B.2.1) within its last bytes (a file cut short has none)."""
    try:
        image = JpegImagePlugin.JpegImageFile(io.BytesIO(prefix))
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise ContentRefused(
            f"the JPEG file is damaged: no frame header (SOF) giving its size in its first {HEADER_BYTES:,} bytes"
        ) from exc
    if b"\xff\xd9" not in tail[-4096:]:
        raise ContentRefused("the JPEG file is truncated: it does not end with an end-of-image marker")
    return _pixels_checked("JPEG", *image.size)


def _check_heic(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """HEIC (ISO/IEC 23008-12): the primary image's size, read by libheif (pillow-heif) from the ``meta`` box in the
    first :data:`HEADER_BYTES`; the coded image data (``mdat``) is not checked, so a HEIC cut inside it passes. Any
    error libheif raises (a damaged box, a feature it does not support) refuses the file."""
    try:
        width, height = pillow_heif.open_heif(io.BytesIO(prefix)).size
    except Exception as exc:
        raise ContentRefused(
            f"the HEIC file cannot be read: its image description (meta box) is damaged or not in its first "
            f"{HEADER_BYTES:,} bytes"
        ) from exc
    return {"width": width, "height": height}


def _check_dicom(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """DICOM PS3.10 §7.1: preamble, ``DICM``, file meta information with a transfer syntax, then the data set, read by
    pydicom up to the pixel data from the first :data:`HEADER_BYTES`. Any error pydicom raises refuses the file."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(prefix), stop_before_pixels=True)
    except Exception as exc:
        raise ContentRefused("the DICOM file is damaged: it cannot be read") from exc
    if "TransferSyntaxUID" not in dataset.file_meta or len(dataset) == 0:
        raise ContentRefused("the DICOM file is damaged: it has no transfer syntax or no data elements")
    facts: dict[str, int | str] = {}
    if dataset.get("Modality"):
        facts["modality"] = str(dataset.Modality)
    for keyword, fact in (("Rows", "rows"), ("Columns", "columns")):
        if isinstance(dataset.get(keyword), int):
            facts[fact] = int(dataset.get(keyword))
    return facts


def _check_pdf(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """PDF (ISO 32000-1 §7.5.2 header ``%PDF-1.n``, §7.5.5 ``%%EOF`` at the end; readers look in the last 1 KiB)."""
    version = re.match(rb"%PDF-(\d\.\d)", prefix)
    if version is None:
        raise ContentRefused("the PDF file is damaged: its header has no version")
    if b"%%EOF" not in tail[-_PDF_EOF_BYTES:]:
        raise ContentRefused("the PDF file is truncated: it does not end with %%EOF")
    return {"version": version.group(1).decode("ascii")}


def _check_zip(prefix: bytes, tail: bytes, size: int, lines: _LineCounter | None) -> dict[str, int | str]:
    """ZIP (PKWARE APPNOTE.TXT): a local file header first (§4.3.7), an end of central directory record (§4.3.16, 22
    bytes and a comment) in the last :data:`TAIL_BYTES`."""
    if not prefix.startswith(b"PK\x03\x04"):
        raise ContentRefused("the ZIP archive is empty")
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0 and (at + 22 > len(tail) or at + 22 + struct.unpack_from("<H", tail, at + 20)[0] > len(tail)):
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0:
        raise ContentRefused("the ZIP archive is truncated: it has no end of central directory record")
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    return {} if entries == 0xFFFF else {"entries": entries}


_CHECKS = {
    "jpeg": _check_jpeg,
    "png": _check_png,
    "heic": _check_heic,
    "stl": _check_stl,
    "ply": _check_ply,
    "obj": _check_obj,
    "dicom": _check_dicom,
    "pdf": _check_pdf,
    "zip": _check_zip,
}
