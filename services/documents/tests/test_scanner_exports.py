"""Scanner exports built here as ZIPs: an iTero export with the real arch scans placed in its slots, and every kind
of unsafe archive (traversal, links, too many entries, zip bombs honest and lying, encryption, duplicate names,
entity bombs, broken manifests) refused with :class:`ArchiveRefused`."""

from __future__ import annotations

import io
import stat
import struct
import time
import zipfile

import pytest

from services.documents.scanner_exports import (
    MAX_ENTRIES,
    ArchiveRefused,
    ExportedFile,
    ScannerExport,
    check_archive,
    open_entry,
    read_export,
)
from tests.harness.samples import CASE_01_DIR

SAMPLES = CASE_01_DIR
LIMIT = 100 * 1024 * 1024
MIB = 1 << 20
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _archive(*entries: tuple[str | zipfile.ZipInfo, bytes]) -> zipfile.ZipFile:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return zipfile.ZipFile(io.BytesIO(out.getvalue()))


def _manifest(objects: str, *, namespace: str = "", patient_tag: str = "Patient") -> bytes:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<iTeroExport{xmlns} Version="2.0">'
        f"<RxInfo><OrderId>ORD-2024-0042</OrderId><{patient_tag}>Héloïse Durand</{patient_tag}>"
        f"<Doctor>Dr. Ana Lima</Doctor></RxInfo><ExportedObjects>{objects}</ExportedObjects></iTeroExport>"
    ).encode()


def _object(kind: str, file_name: str, jaw: str | None = None) -> str:
    jaw_element = f"<JawId>{jaw}</JawId>" if jaw else ""
    return f"<Object><ObjectType>{kind}</ObjectType>{jaw_element}<FileName>{file_name}</FileName></Object>"


def _refusal(archive: zipfile.ZipFile) -> str:
    with pytest.raises(ArchiveRefused) as caught:
        read_export(archive, max_uncompressed_bytes=LIMIT)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt) :]


def _one_entry_zip(name: str, data: bytes) -> tuple[bytes, int, int]:
    """A one-entry deflated ZIP, the offset of its local file header and of its central directory header."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    raw = out.getvalue()
    return raw, raw.index(b"PK\x03\x04"), raw.index(b"PK\x01\x02")


@pytest.mark.parametrize(
    ("namespace", "patient_tag"),
    [("", "Patient"), ("http://schemas.aligntech.com/itero/export", "Patient"), ("", "PatientName")],
)
def test_an_itero_export_places_each_file_in_its_slot(namespace: str, patient_tag: str) -> None:
    upper = (SAMPLES / "upper_jaw.stl").read_bytes()
    lower = (SAMPLES / "lower_jaw.stl").read_bytes()
    objects = "".join(
        [
            _object("Surface", "Scans/upper_jaw.stl", "Upper"),
            _object("Surface", "Scans\\lower_jaw.stl", "Lower"),
            _object("Surface", "./bite.stl", "Bite"),
            _object("Image", "render.png"),
            _object("Margin", "margin.xml", "Upper"),
            _object("Surface", "preparation.stl"),
        ]
    )
    archive = _archive(
        ("Export_0042/iTero_Export.xml", _manifest(objects, namespace=namespace, patient_tag=patient_tag)),
        ("Export_0042/Scans/upper_jaw.stl", upper),
        ("Export_0042/Scans/lower_jaw.stl", lower),
        ("Export_0042/bite.stl", b"solid bite\nendsolid bite\n"),
        ("Export_0042/render.png", PNG),
    )

    export = read_export(archive, max_uncompressed_bytes=LIMIT)

    assert export == ScannerExport(
        scanner="iTero",
        order_id="ORD-2024-0042",
        patient="Héloïse Durand",
        doctor="Dr. Ana Lima",
        files=(
            ExportedFile("Export_0042/Scans/upper_jaw.stl", "upper_jaw.stl", "scan.upper", len(upper)),
            ExportedFile("Export_0042/Scans/lower_jaw.stl", "lower_jaw.stl", "scan.lower", len(lower)),
            ExportedFile("Export_0042/bite.stl", "bite.stl", "scan.bite", 25),
            ExportedFile("Export_0042/render.png", "render.png", "scan.render", len(PNG)),
        ),
    )
    chunks = list(open_entry(archive, export.files[0].entry, max_bytes=LIMIT))
    assert b"".join(chunks) == upper
    assert len(chunks) > 1 and all(len(chunk) <= MIB for chunk in chunks)


def test_an_occlusion_surface_is_the_bite_and_missing_rx_fields_are_none() -> None:
    manifest = b"<iTeroExport><ExportedObjects>" + _object("surface", "b.stl", "OCCLUSION").encode()
    archive = _archive(("m.xml", manifest + b"</ExportedObjects></iTeroExport>"), ("b.stl", b"solid b"))
    export = read_export(archive, max_uncompressed_bytes=LIMIT)
    assert export is not None
    assert (export.order_id, export.patient, export.doctor) == (None, None, None)
    assert [(item.slot, item.size_bytes) for item in export.files] == [("scan.bite", 7)]


def test_a_manifest_listing_a_file_the_archive_lacks_is_refused() -> None:
    manifest = _manifest(_object("Surface", "upper.stl", "Upper") + _object("Surface", "lower.stl", "Lower"))
    archive = _archive(("export/manifest.xml", manifest), ("export/upper.stl", b"solid u"))
    assert "lists 'lower.stl', which is not a file of the archive" in _refusal(archive)


def test_a_manifest_pointing_outside_its_archive_is_refused() -> None:
    manifest = _manifest(_object("Surface", "../../etc/passwd", "Upper"))
    archive = _archive(("export/manifest.xml", manifest), ("etc/passwd", b"root:x:0:0"))
    assert "lists '../../etc/passwd'" in _refusal(archive)


@pytest.mark.parametrize("name", ["../evil.stl", "/abs.stl", "..\\win.stl", "C:\\x.stl", "scans/../../up.stl"])
def test_an_entry_leaving_the_archive_is_refused(name: str) -> None:
    archive = _archive(("ok.stl", b"solid ok"), (name, b"solid evil"))
    with pytest.raises(ArchiveRefused, match="points outside the archive"):
        check_archive(archive, max_uncompressed_bytes=LIMIT)
    assert repr(name) in _refusal(archive)


def test_a_symbolic_link_is_refused() -> None:
    link = zipfile.ZipInfo("scans/upper.stl")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _archive((link, b"/etc/passwd"))
    assert _refusal(archive) == "the entry 'scans/upper.stl' is a symbolic link"


def test_more_than_max_entries_are_refused_and_max_entries_pass() -> None:
    entries = [(f"doc-{number}.pdf", PDF) for number in range(MAX_ENTRIES)]
    assert read_export(_archive(*entries), max_uncompressed_bytes=LIMIT) is None
    assert _refusal(_archive(*entries, ("one-more.pdf", PDF))) == "it has 201 entries, more than 200"


def test_an_honest_zip_bomb_is_refused_from_its_central_directory() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.stl", "w") as entry:
        for _ in range(200):
            entry.write(bytes(MIB))
    assert len(out.getvalue()) < 1 * MIB
    bomb = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    with pytest.raises(ArchiveRefused, match=f"add up to {200 * MIB} bytes uncompressed, more than the {LIMIT}"):
        check_archive(bomb, max_uncompressed_bytes=LIMIT)


def test_an_entry_inflating_past_its_lying_header_is_refused_while_reading() -> None:
    raw, local, central = _one_entry_zip("upper.stl", bytes(8 * MIB))
    raw = _patched(raw, local + 22, "<I", 1000)
    raw = _patched(raw, central + 24, "<I", 1000)
    archive = zipfile.ZipFile(io.BytesIO(raw))
    assert archive.getinfo("upper.stl").file_size == 1000
    check_archive(archive, max_uncompressed_bytes=LIMIT)
    with pytest.raises(ArchiveRefused, match="'upper.stl' is damaged or inflates past its declared size"):
        for _ in open_entry(archive, "upper.stl", max_bytes=LIMIT):
            pass


def test_reading_stops_at_max_bytes() -> None:
    archive = _archive(("upper.stl", bytes(3 * MIB)))
    chunks = open_entry(archive, "upper.stl", max_bytes=2 * MIB)
    assert len(next(chunks)) == MIB
    assert len(next(chunks)) == MIB
    with pytest.raises(ArchiveRefused, match=f"'upper.stl' inflates past {2 * MIB} bytes"):
        next(chunks)


def test_damaged_compressed_data_is_refused_while_reading() -> None:
    raw, local, _ = _one_entry_zip("upper.stl", bytes(range(256)) * 64)
    data_start = local + 30 + len("upper.stl")
    raw = raw[:data_start] + b"\xff" * 16 + raw[data_start + 16 :]
    with pytest.raises(ArchiveRefused, match="'upper.stl'"):
        b"".join(open_entry(zipfile.ZipFile(io.BytesIO(raw)), "upper.stl", max_bytes=LIMIT))


def test_an_encrypted_entry_is_refused() -> None:
    raw, local, central = _one_entry_zip("upper.stl", b"solid upper")
    raw = _patched(raw, local + 6, "<H", 0x0001)
    raw = _patched(raw, central + 8, "<H", 0x0001)
    archive = zipfile.ZipFile(io.BytesIO(raw))
    assert _refusal(archive) == "the entry 'upper.stl' is encrypted"


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
@pytest.mark.parametrize("second", ["scans/upper.stl", "scans\\upper.stl", "scans/./upper.stl"])
def test_a_repeated_name_is_refused(second: str) -> None:
    archive = _archive(("scans/upper.stl", b"solid a"), (second, b"solid b"))
    assert _refusal(archive) == f"the name {second!r} appears more than once"


def test_a_plain_zip_of_pdfs_is_no_export() -> None:
    archive = _archive(
        ("referral.pdf", PDF), ("consent/consent.pdf", PDF), ("notes.xml", b"<notes><note>recall 6 mo</note></notes>")
    )
    assert read_export(archive, max_uncompressed_bytes=LIMIT) is None


def test_an_xml_that_only_mentions_the_manifest_root_is_no_export() -> None:
    archive = _archive(("readme.xml", b"<readme>Open the iTeroExport folder.</readme>"), ("a.pdf", PDF))
    assert read_export(archive, max_uncompressed_bytes=LIMIT) is None


def test_an_entity_expansion_bomb_is_refused_without_expanding() -> None:
    entities = "".join(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE iTeroExport [<!ENTITY lol0 "lol">{entities}]>'
        "<iTeroExport><RxInfo><Patient>&lol9;</Patient></RxInfo></iTeroExport>"
    ).encode()
    started = time.monotonic()
    reason = _refusal(_archive(("export/manifest.xml", bomb)))
    assert time.monotonic() - started < 5
    assert reason.startswith("the manifest 'export/manifest.xml' declares XML entities")


def test_an_external_entity_is_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE iTeroExport [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<iTeroExport><RxInfo><Patient>&x;</Patient></RxInfo></iTeroExport>"
    )
    assert "declares XML entities or external references" in _refusal(_archive(("m.xml", xxe)))


def test_a_malformed_manifest_is_refused() -> None:
    archive = _archive(("m.xml", b"<iTeroExport><RxInfo><OrderId>1</RxInfo>"), ("u.stl", b"solid u"))
    assert _refusal(archive).startswith("the manifest 'm.xml' is not well-formed XML")
