"""Scanner exports: a ZIP an intra-oral scanner exported, read safely and mapped onto the case's slots.

An archive is checked from its central directory before anything is inflated (:func:`check_archive`): no entry may
leave the archive, be a link, be encrypted or repeat a name; there are at most :data:`MAX_ENTRIES` entries and their
declared sizes add up to at most a limit. Entries are then inflated in bounded chunks (:func:`open_entry`), refused as
soon as one yields more than it declared: a zip bomb lies in its headers.

Known layout: the iTero export (:func:`read_export`), an XML manifest whose root is ``iTeroExport`` (any
namespace)::

    <iTeroExport>
      <RxInfo><OrderId>…</OrderId><Patient>…</Patient><Doctor>…</Doctor></RxInfo>
      <ExportedObjects>
        <Object><ObjectType>Surface</ObjectType><JawId>Upper</JawId><FileName>upper.stl</FileName></Object>
        <Object><ObjectType>Image</ObjectType><FileName>render.png</FileName></Object>
      </ExportedObjects>
    </iTeroExport>

``FileName`` is relative to the manifest's folder. A surface of jaw ``Upper`` / ``Lower`` goes to ``scan.upper`` /
``scan.lower``, of jaw ``Bite`` or ``Occlusion`` to ``scan.bite``; an image to ``scan.render``; other objects are
ignored. The manifest is parsed with defusedxml only: a DTD's entities (the "billion laughs") and external
references are refused, never expanded or fetched.
"""

from __future__ import annotations

import posixpath
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree
from defusedxml import DefusedXmlException

MAX_ENTRIES = 200
"""The most entries (files and folders) an archive may hold."""

_CHUNK_BYTES = 1 << 20
_MANIFEST_MAX_BYTES = 1 << 20
_MANIFEST_ROOT = "iTeroExport"
_MANIFEST_MARKERS = tuple(_MANIFEST_ROOT.encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))
_ENCRYPTED_FLAGS = 0x0001 | 0x0040
_DRIVE = re.compile(r"[A-Za-z]:")
_SURFACE_SLOTS = {"upper": "scan.upper", "lower": "scan.lower", "bite": "scan.bite", "occlusion": "scan.bite"}


class ArchiveRefused(Exception):
    """The archive may not be unpacked; ``reason`` (also ``str(exc)``) names the problem as a clause, e.g. "the
    entry '../x.stl' points outside the archive": an entry leaving the archive, a symbolic link, more than
    :data:`MAX_ENTRIES` entries, declared sizes over the limit, an entry inflating past its declared size or the
    limit, an encrypted entry, a repeated name, an entry that cannot be read (not ZIP data, a bad CRC-32, an
    unsupported compression method), a manifest listing a file the archive lacks, a manifest that is not well-formed
    or declares entities."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExportedFile:
    """A file a scanner export places in a slot: ``entry`` its name in the archive (for :func:`open_entry`),
    ``filename`` its base name (for the document), ``slot`` e.g. ``scan.upper``, ``size_bytes`` its uncompressed
    size as the central directory declares it (APPNOTE.TXT §4.4.9; the bytes may disagree)."""

    entry: str
    filename: str
    slot: str
    size_bytes: int


@dataclass(frozen=True)
class ScannerExport:
    """What a scanner export holds: the ``scanner`` that made it (``"iTero"``), the order id, patient and doctor its
    manifest names (None when absent or empty) and its ``files`` in manifest order."""

    scanner: str
    order_id: str | None
    patient: str | None
    doctor: str | None
    files: tuple[ExportedFile, ...]


def check_archive(archive: zipfile.ZipFile, *, max_uncompressed_bytes: int) -> None:
    """Raise :class:`ArchiveRefused` unless every rule that the central directory (APPNOTE.TXT §4.3.12) can show
    holds: at most :data:`MAX_ENTRIES` entries; declared uncompressed sizes (§4.4.9) adding up to at most
    ``max_uncompressed_bytes``; no name, once backslashes are read as separators, that is absolute, starts with a
    drive letter or has a ``..`` part (§4.4.17.1 allows none of them); no two names alike after that; no symbolic
    link (Unix mode ``S_IFLNK`` in the high 16 bits of the external attributes, §4.4.15, whatever the "version made
    by" system); no encrypted entry (general purpose flag bit 0 or bit 6, strong encryption, §4.4.4)."""
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise ArchiveRefused(f"it has {len(entries)} entries, more than {MAX_ENTRIES}")
    total = sum(info.file_size for info in entries)
    if total > max_uncompressed_bytes:
        raise ArchiveRefused(
            f"its entries add up to {total} bytes uncompressed, more than the {max_uncompressed_bytes} allowed"
        )
    seen: set[str] = set()
    for info in entries:
        name = info.filename
        path = _path(name)
        if _leaves_archive(path):
            raise ArchiveRefused(f"the entry {name!r} points outside the archive")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveRefused(f"the entry {name!r} is a symbolic link")
        if info.flag_bits & _ENCRYPTED_FLAGS:
            raise ArchiveRefused(f"the entry {name!r} is encrypted")
        if path in seen:
            raise ArchiveRefused(f"the name {name!r} appears more than once")
        seen.add(path)


def read_export(archive: zipfile.ZipFile, *, max_uncompressed_bytes: int) -> ScannerExport | None:
    """The scanner export ``archive`` holds, after :func:`check_archive`; None for a sound ZIP that is no known
    export (then kept whole as a plain document). The manifest is the first ``.xml`` entry of at most 1 MiB that
    mentions ``iTeroExport`` and whose root element is ``iTeroExport`` in any namespace. Raises
    :class:`ArchiveRefused` for a check that fails, a manifest that is not well-formed or declares entities, and a
    placed object whose ``FileName`` is not a file of the archive."""
    check_archive(archive, max_uncompressed_bytes=max_uncompressed_bytes)
    for info in archive.infolist():
        if info.is_dir() or not info.filename.lower().endswith(".xml") or info.file_size > _MANIFEST_MAX_BYTES:
            continue
        data = b"".join(open_entry(archive, info.filename, max_bytes=_MANIFEST_MAX_BYTES))
        if not any(marker in data for marker in _MANIFEST_MARKERS):
            continue
        root = _parsed(info.filename, data)
        if _local(root.tag) == _MANIFEST_ROOT:
            return _itero_export(archive, info.filename, root)
    return None


def open_entry(archive: zipfile.ZipFile, entry: str, *, max_bytes: int) -> Iterator[bytes]:
    """The uncompressed bytes of ``entry`` (a name of ``archive``; KeyError for another), in chunks of at most
    1 MiB, inflated as they are asked for. Raises :class:`ArchiveRefused` as soon as more than ``max_bytes`` or more
    than the entry's declared size came out, and for data that cannot be read. ``zipfile`` stops inflating at the
    declared size, so the bytes a lying header hides are never produced: the CRC-32 of what came out (APPNOTE.TXT
    §4.4.7) then differs, which is refused too."""
    info = archive.getinfo(entry)
    limit = min(max_bytes, info.file_size)
    produced = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                produced += len(chunk)
                if produced > limit:
                    raise ArchiveRefused(f"the entry {entry!r} inflates past {limit} bytes")
                yield chunk
    except zipfile.BadZipFile as exc:
        raise ArchiveRefused(f"the entry {entry!r} is damaged or inflates past its declared size ({exc})") from exc
    except (zlib.error, EOFError, NotImplementedError) as exc:
        raise ArchiveRefused(f"the entry {entry!r} cannot be read ({exc})") from exc


def _path(name: str) -> str:
    """An entry name as a normalised POSIX path: backslashes read as separators, ``.`` parts and doubled slashes
    dropped."""
    return posixpath.normpath(name.replace("\\", "/"))


def _leaves_archive(path: str) -> bool:
    return path.startswith("/") or _DRIVE.match(path) is not None or ".." in path.split("/")


def _parsed(name: str, data: bytes) -> Element:
    try:
        return defusedxml.ElementTree.fromstring(data)
    except DefusedXmlException as exc:
        raise ArchiveRefused(f"the manifest {name!r} declares XML entities or external references ({exc})") from exc
    except ParseError as exc:
        raise ArchiveRefused(f"the manifest {name!r} is not well-formed XML ({exc})") from exc


def _itero_export(archive: zipfile.ZipFile, manifest: str, root: Element) -> ScannerExport:
    files = {_path(info.filename): info for info in archive.infolist() if not info.is_dir()}
    folder = posixpath.dirname(_path(manifest))
    rx = _child(root, "RxInfo")
    placed = []
    for item in _children(_child(root, "ExportedObjects"), "Object"):
        slot = _slot(_text(item, "ObjectType"), _text(item, "JawId"))
        if slot is None:
            continue
        listed = _text(item, "FileName") or ""
        path = _path(posixpath.join(folder, listed.replace("\\", "/")))
        info = None if _leaves_archive(path) else files.get(path)
        if info is None:
            raise ArchiveRefused(f"the manifest {manifest!r} lists {listed!r}, which is not a file of the archive")
        placed.append(ExportedFile(info.filename, posixpath.basename(path), slot, info.file_size))
    return ScannerExport(
        scanner="iTero",
        order_id=_text(rx, "OrderId"),
        patient=_text(rx, "Patient") or _text(rx, "PatientName"),
        doctor=_text(rx, "Doctor"),
        files=tuple(placed),
    )


def _slot(kind: str | None, jaw: str | None) -> str | None:
    kind = (kind or "").casefold()
    if kind == "image":
        return "scan.render"
    if kind == "surface":
        return _SURFACE_SLOTS.get((jaw or "").casefold())
    return None


def _local(tag: object) -> str:
    """An element's name without its ``{namespace}``; empty for a comment or processing instruction."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(parent: Element | None, name: str) -> list[Element]:
    return [] if parent is None else [child for child in parent if _local(child.tag) == name]


def _child(parent: Element | None, name: str) -> Element | None:
    return next(iter(_children(parent, name)), None)


def _text(parent: Element | None, name: str) -> str | None:
    """The text of ``parent``'s first ``name`` child, its parts (nested elements too) joined by single spaces;
    None when there is no such child or it holds only whitespace."""
    element = _child(parent, name)
    if element is None:
        return None
    return " ".join(" ".join(element.itertext()).split()) or None
