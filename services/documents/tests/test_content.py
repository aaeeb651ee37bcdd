"""The content check of record files: real sample records and files built here, fed in chunks of awkward sizes."""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zipfile
from collections.abc import Iterator

import pillow_heif
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from reportlab.pdfgen import canvas

from services.documents.content import (
    HEADER_BYTES,
    KINDS,
    PREFIX_BYTES,
    SLOT_KINDS,
    TAIL_BYTES,
    Content,
    ContentInspector,
    ContentRefused,
    refusal_for,
    sniff,
)
from shared.events.documents import RECORD_SLOTS
from shared.events.orders import PHOTO_SLOTS
from tests.harness.samples import CASE_01_DIR

SAMPLES = CASE_01_DIR
CHUNK_SIZES = (1, 7, PREFIX_BYTES + 1)
UPPER_JAW_TRIANGLES = 85_232


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def inspect(data: bytes, chunk_size: int) -> Content:
    """Sniff and inspect ``data`` as the upload route does: the prefix first, then every chunk from the start."""
    inspector = ContentInspector()
    for chunk in chunks(data, chunk_size):
        inspector.feed(chunk)
    assert inspector.size == len(data)
    return inspector.finish()


def refusal(data: bytes, chunk_size: int = 7) -> str:
    with pytest.raises(ContentRefused) as refused:
        inspect(data, chunk_size)
    assert str(refused.value) == refused.value.reason
    return refused.value.reason


def ascii_stl(facets: int, name: str = "arch") -> bytes:
    lines = [f"solid {name}"]
    for index in range(facets):
        x = index * 0.25
        lines += [
            "  facet normal 0.000000e+00 0.000000e+00 1.000000e+00",
            "    outer loop",
            f"      vertex {x:e} 0.000000e+00 0.000000e+00",
            f"      vertex {x + 1:e} 0.000000e+00 0.000000e+00",
            f"      vertex {x:e} 1.000000e+00 0.000000e+00",
            "    endloop",
            "  endfacet",
        ]
    lines.append(f"endsolid {name}")
    return ("\n".join(lines) + "\n").encode("ascii")


def binary_stl(triangles: int, header: bytes = b"") -> Iterator[bytes]:
    """A binary STL in 1 MiB chunks, never whole."""
    yield header.ljust(80, b"\0") + struct.pack("<I", triangles)
    record = struct.pack("<12fH", 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0)
    per_chunk = (1 << 20) // 50
    for start in range(0, triangles, per_chunk):
        yield record * min(per_chunk, triangles - start)


CUBE_VERTICES = [(x, y, z) for x in (0.0, 1.0) for y in (0.0, 1.0) for z in (0.0, 1.0)]
CUBE_FACES = [
    (0, 1, 3),
    (0, 3, 2),
    (4, 6, 7),
    (4, 7, 5),
    (0, 4, 5),
    (0, 5, 1),
    (2, 3, 7),
    (2, 7, 6),
    (0, 2, 6),
    (0, 6, 4),
    (1, 5, 7),
    (1, 7, 3),
]


def ply_ascii(vertices: list[tuple[float, float, float]] = CUBE_VERTICES) -> bytes:
    header = [
        "ply",
        "format ascii 1.0",
        "comment made for a test",
        f"element vertex {len(vertices)}",
        "property float x",
        "property float y",
        "property float z",
        f"element face {len(CUBE_FACES)}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    body = [f"{x} {y} {z}" for x, y, z in vertices] + [f"3 {a} {b} {c}" for a, b, c in CUBE_FACES]
    return ("\n".join(header + body) + "\n").encode("ascii")


def ply_binary() -> bytes:
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(CUBE_VERTICES)}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        f"element face {len(CUBE_FACES)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    body = b"".join(struct.pack("<3f3B", *vertex, 200, 180, 170) for vertex in CUBE_VERTICES)
    body += b"".join(struct.pack("<B3i", 3, *face) for face in CUBE_FACES)
    return header + body


def obj_cube() -> bytes:
    lines = ["# a cube", "mtllib cube.mtl", "o cube"]
    lines += [f"v {x} {y} {z}" for x, y, z in CUBE_VERTICES]
    lines += ["vn 0 0 1", "usemtl gum", "s off"]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in CUBE_FACES]
    return ("\n".join(lines) + "\n").encode("ascii")


def heic(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (width, height), (210, 120, 90))).save(buffer, quality=60)
    return buffer.getvalue()


def dicom(modality: str = "PX", rows: int = 1024, columns: int = 1100) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = modality
    dataset.PatientName = "Test^Patient"
    dataset.Rows, dataset.Columns = rows, columns
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 8, 8, 7, 0
    dataset.PixelData = bytes(rows * columns)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def pdf() -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Referral letter")
    page.showPage()
    page.save()
    return buffer.getvalue()


def zip_archive(comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("setup/viewer.html", "<html></html>" * 100)
        archive.writestr("setup/step01.stl", ascii_stl(3))
        archive.comment = comment
    return buffer.getvalue()


def test_the_tables_cover_every_record_slot_and_the_lab_slots() -> None:
    assert set(RECORD_SLOTS) | {"setup", "scan.render", "shipping_label"} == set(SLOT_KINDS)
    assert all(kinds and kinds <= set(KINDS) for kinds in SLOT_KINDS.values())
    assert all(SLOT_KINDS[slot] == {"jpeg", "png", "heic"} for slot in PHOTO_SLOTS)
    assert SLOT_KINDS["scan.bite"] == {"stl", "ply", "obj"}
    assert SLOT_KINDS["xray.cephalometric"] == {"jpeg", "png", "dicom"}
    assert SLOT_KINDS["other"] == {"pdf", "zip"}
    assert SLOT_KINDS["setup"] == {"zip", "pdf", "stl", "ply", "obj"}
    assert PREFIX_BYTES == 65536


@pytest.mark.parametrize("name", ["frontal.png", "left_buccal.png", "right_buccal.png", "upper_occlusal.png"])
def test_real_png_photos_are_png_with_their_size(name: str) -> None:
    data = sample(name)
    assert sniff(data[:PREFIX_BYTES]) == "png"
    assert inspect(data, 7) == Content("png", "image/png", {"width": 1440, "height": 1080})


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_a_real_png_in_any_chunks(chunk_size: int) -> None:
    assert inspect(sample("lower_occlusal.png"), chunk_size).facts == {"width": 1440, "height": 1080}


@pytest.mark.parametrize("name", ["face_frontal.jpg", "face_profile.jpg", "face_smiling.jpg"])
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_real_jpeg_photos_are_jpeg_with_their_size(name: str, chunk_size: int) -> None:
    data = sample(name)
    with Image.open(SAMPLES / name) as image:
        width, height = image.size
    assert sniff(data[:PREFIX_BYTES]) == "jpeg"
    assert inspect(data, chunk_size) == Content("jpeg", "image/jpeg", {"width": width, "height": height})


@pytest.mark.parametrize("chunk_size", [7, PREFIX_BYTES + 1])
def test_the_real_upper_jaw_is_a_binary_stl_with_its_triangles(chunk_size: int) -> None:
    data = sample("upper_jaw.stl")
    assert sniff(data[:PREFIX_BYTES]) == "stl"
    content = inspect(data, chunk_size)
    assert content == Content("stl", "model/stl", {"triangles": UPPER_JAW_TRIANGLES, "encoding": "binary"})


def test_the_real_lower_jaw_is_a_binary_stl() -> None:
    data = sample("lower_jaw.stl")
    content = inspect(data, PREFIX_BYTES + 1)
    assert content.facts == {"triangles": (len(data) - 84) // 50, "encoding": "binary"}


def test_a_truncated_binary_stl_is_refused_with_what_its_header_declares() -> None:
    cut = sample("upper_jaw.stl")[:4_000_000]
    assert sniff(cut[:PREFIX_BYTES]) == "stl"
    assert refusal(cut, PREFIX_BYTES + 1) == (
        "the STL file is truncated: its header declares 85,232 triangles (4,261,684 bytes) but it has 4,000,000 bytes"
    )


def test_a_padded_binary_stl_is_refused() -> None:
    padded = sample("upper_jaw.stl") + b"\0" * 10
    assert refusal(padded, PREFIX_BYTES + 1) == (
        "the STL file is damaged: its header declares 85,232 triangles (4,261,684 bytes) but it has 4,261,694 bytes"
    )


def test_a_binary_stl_whose_header_starts_with_solid_is_binary() -> None:
    data = sample("upper_jaw.stl")
    renamed = b"solid upper_jaw exported by a scanner".ljust(80, b" ") + data[80:]
    assert sniff(renamed[:PREFIX_BYTES]) == "stl"
    assert inspect(renamed, 7).facts == {"triangles": UPPER_JAW_TRIANGLES, "encoding": "binary"}
    assert "truncated: its header declares 85,232 triangles" in refusal(renamed[:-50], PREFIX_BYTES + 1)


def test_a_binary_stl_without_triangles_is_refused() -> None:
    empty = b"\0" * 80 + struct.pack("<I", 0)
    assert sniff(empty) == "stl"
    assert refusal(empty, 1) == "the STL file has no triangles"


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_an_ascii_stl_counts_its_facets_across_chunk_boundaries(chunk_size: int) -> None:
    data = ascii_stl(300)
    assert len(data) > PREFIX_BYTES
    assert sniff(data[:PREFIX_BYTES]) == "stl"
    assert inspect(data, chunk_size) == Content("stl", "model/stl", {"triangles": 300, "encoding": "ascii"})


def test_an_ascii_stl_with_windows_line_ends_and_no_final_newline() -> None:
    data = ascii_stl(4).replace(b"\n", b"\r\n").rstrip()
    assert inspect(data, 1).facts == {"triangles": 4, "encoding": "ascii"}


def test_an_ascii_stl_cut_before_endsolid_is_refused() -> None:
    data = ascii_stl(300)
    cut = data[: data.rindex(b"endsolid")]
    assert refusal(cut, 7) == "the ASCII STL file is truncated: it does not end with endsolid"
    assert refusal(data[: len(data) // 2], PREFIX_BYTES + 1) == (
        "the ASCII STL file is truncated: it does not end with endsolid"
    )


def test_an_ascii_stl_without_facets_or_with_a_vertex_missing_is_refused() -> None:
    assert refusal(b"solid nothing\nendsolid nothing\n", 1) == "the ASCII STL file has no facets"
    data = ascii_stl(5)
    missing = data.replace(b"      vertex 5.000000e-01 1.000000e+00 0.000000e+00\n", b"", 1)
    assert missing != data
    assert refusal(missing, 1) == "the ASCII STL file is damaged: it has 5 facets but 14 vertices"


def test_a_png_renamed_stl_is_refused_for_an_arch_scan() -> None:
    prefix = sample("frontal.png")[:PREFIX_BYTES]
    kind = sniff(prefix)
    assert kind == "png"
    assert kind not in SLOT_KINDS["scan.upper"]
    assert refusal_for("scan.upper", kind) == "slot scan.upper takes STL, PLY or OBJ files; this file is PNG"


def test_an_stl_is_refused_for_a_photo_slot() -> None:
    kind = sniff(sample("upper_jaw.stl")[:PREFIX_BYTES])
    assert kind not in SLOT_KINDS["photo.face_frontal"]
    assert refusal_for("photo.face_frontal", kind) == (
        "slot photo.face_frontal takes JPEG, PNG or HEIC files; this file is STL"
    )


def test_refusals_name_the_slots_kinds() -> None:
    assert refusal_for("shipping_label", "zip") == "slot shipping_label takes PDF files; this file is ZIP"
    assert refusal_for("other", None) == "slot other takes PDF or ZIP files; the type of this file was not recognised"
    assert refusal_for("setup", "png") == "slot setup takes STL, PLY, OBJ, PDF or ZIP files; this file is PNG"
    with pytest.raises(KeyError):
        refusal_for("photo.elbow", "png")


def test_an_empty_file_is_refused() -> None:
    assert sniff(b"") is None
    inspector = ContentInspector()
    inspector.feed(b"")
    with pytest.raises(ContentRefused, match="^the file is empty$"):
        inspector.finish()


@pytest.mark.parametrize("length", [10, 200, 5000, 3 * PREFIX_BYTES])
def test_random_bytes_are_no_known_type(length: int) -> None:
    junk = random.Random(length).randbytes(length)
    assert sniff(junk[:PREFIX_BYTES]) is None
    assert refusal(junk, PREFIX_BYTES + 1) == "this is not a JPEG, PNG, HEIC, STL, PLY, OBJ, DICOM, PDF or ZIP file"


def test_text_that_is_not_obj_is_no_known_type() -> None:
    letter = b"Dear colleague,\nplease find the records attached.\nv 1 2 3\n"
    assert sniff(letter) is None
    assert sniff(b"v 0 0 0\nv 1 0 0\n\x00\x01\x02 binary\n") is None


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_an_ascii_ply_gives_its_vertices_and_faces(chunk_size: int) -> None:
    data = ply_ascii()
    assert sniff(data) == "ply"
    assert inspect(data, chunk_size) == Content("ply", "model/x-ply", {"vertices": 8, "faces": 12, "encoding": "ascii"})


def test_a_truncated_ascii_ply_is_refused() -> None:
    data = ply_ascii()
    cut = data[: data.rindex(b"\n3 ", 0, len(data) - 1)]
    assert refusal(cut, 1) == (
        "the PLY file is truncated: its header declares 8 vertices and 12 faces (20 lines) but it has 19"
    )


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_a_binary_ply_gives_its_vertices_and_faces(chunk_size: int) -> None:
    data = ply_binary()
    assert sniff(data) == "ply"
    expected = {"vertices": 8, "faces": 12, "encoding": "binary_little_endian"}
    assert inspect(data, chunk_size).facts == expected


def test_a_binary_ply_shorter_than_its_vertices_and_faces_is_refused() -> None:
    data = ply_binary()
    body = len(data) - (data.index(b"end_header\n") + len(b"end_header\n"))
    assert body == 8 * 15 + 12 * 13
    assert refusal(data[:-1], 7) == (
        "the PLY file is truncated: its header declares 8 vertices and 12 faces (at least 276 bytes after the header) "
        "but it has 275"
    )


def test_a_ply_with_a_broken_header_is_refused() -> None:
    headless = b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n" + b"0\n" * 100
    assert refusal(headless, 1) == ("the PLY header is incomplete: it has no end_header line in its first 65,536 bytes")
    no_vertices = b"ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vertex_indices\nend_header\n"
    assert "has no vertices" in refusal(no_vertices, 1)
    unknown_type = b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty quad x\nend_header\n"
    assert refusal(unknown_type, 1) == "the PLY header is damaged: it has the property 'quad x'"
    no_format = b"ply\nelement vertex 1\nproperty float x\nend_header\n0\n"
    assert "no format" in refusal(no_format, 1)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_an_obj_counts_vertices_and_faces_across_chunk_boundaries(chunk_size: int) -> None:
    data = obj_cube()
    assert sniff(data) == "obj"
    assert inspect(data, chunk_size) == Content("obj", "model/obj", {"vertices": 8, "faces": 12})


def test_a_long_obj_counts_every_line() -> None:
    data = b"".join(f"v {i} {i} {i}\nvt 0.5 0.5\n".encode() for i in range(30_000))
    data += b"".join(f"f {i} {i + 1} {i + 2}\n".encode() for i in range(1, 20_000))
    assert len(data) > 3 * PREFIX_BYTES
    assert inspect(data, 7).facts == {"vertices": 30_000, "faces": 19_999}


def test_an_obj_without_a_face_is_refused() -> None:
    lines = b"# points only\nv 0 0 0\nv 1 0 0\nv 0 1 0\n"
    assert sniff(lines) == "obj"
    assert refusal(lines, 1) == ("the OBJ file has 3 vertices and 0 faces; a scan needs at least 3 vertices and 1 face")


@pytest.mark.parametrize("chunk_size", [1, 7, PREFIX_BYTES + 1])
def test_a_heic_photo_gives_its_size(chunk_size: int) -> None:
    data = heic(640, 480)
    assert sniff(data) == "heic"
    assert inspect(data, chunk_size) == Content("heic", "image/heic", {"width": 640, "height": 480})


def test_a_heic_without_its_image_description_is_refused() -> None:
    data = heic()
    meta = data.index(b"meta")
    damaged = data[: meta + 4] + bytes(len(data) - meta - 4)
    assert sniff(damaged) == "heic"
    assert refusal(damaged).startswith("the HEIC file cannot be read: its image description (meta box)")


def test_an_iso_bmff_file_without_a_heif_brand_is_no_known_type() -> None:
    mp4 = struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isomiso2" + bytes(1000)
    assert sniff(mp4) is None


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_a_dicom_xray_gives_its_modality_and_size(chunk_size: int) -> None:
    data = dicom("PX", rows=1024, columns=1100)
    assert len(data) > HEADER_BYTES
    assert sniff(data[:PREFIX_BYTES]) == "dicom"
    expected = Content("dicom", "application/dicom", {"modality": "PX", "rows": 1024, "columns": 1100})
    assert inspect(data, chunk_size) == expected


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter:UserWarning")
def test_a_dicom_that_cannot_be_read_is_refused() -> None:
    damaged = bytes(128) + b"DICM" + b"\xff" * 400
    assert sniff(damaged) == "dicom"
    assert refusal(damaged).startswith("the DICOM file is damaged")


@pytest.mark.parametrize("chunk_size", [1, 7])
def test_a_pdf_gives_its_version(chunk_size: int) -> None:
    data = pdf()
    assert sniff(data) == "pdf"
    content = inspect(data, chunk_size)
    assert content.kind == "pdf" and content.content_type == "application/pdf"
    assert content.facts == {"version": data[5:8].decode()}


def test_a_truncated_pdf_is_refused() -> None:
    data = pdf()
    assert refusal(data[: len(data) // 2], 1) == "the PDF file is truncated: it does not end with %%EOF"


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_a_zip_gives_its_entries(chunk_size: int) -> None:
    data = zip_archive()
    assert sniff(data) == "zip"
    assert inspect(data, chunk_size) == Content("zip", "application/zip", {"entries": 2})


def test_a_zip_with_the_longest_comment_is_found_from_its_tail() -> None:
    data = zip_archive(b"c" * 65535)
    assert len(data) > TAIL_BYTES
    assert inspect(data, 7).facts == {"entries": 2}


def test_a_truncated_or_empty_zip_is_refused() -> None:
    data = zip_archive()
    cut = data[: data.rindex(b"PK\x05\x06")]
    assert refusal(cut, 1) == "the ZIP archive is truncated: it has no end of central directory record"
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    assert sniff(empty.getvalue()) == "zip"
    assert refusal(empty.getvalue(), 1) == "the ZIP archive is empty"


def test_a_png_cut_short_or_with_a_damaged_header_is_refused() -> None:
    data = sample("frontal.png")
    assert refusal(data[:-1], PREFIX_BYTES + 1) == (
        "the PNG file is truncated: it does not end with an image end chunk (IEND)"
    )
    damaged = data[:17] + bytes([data[17] ^ 0xFF]) + data[18:]
    assert refusal(damaged, PREFIX_BYTES + 1) == "the PNG file is damaged: its image header (IHDR) fails its checksum"
    assert refusal(data[:8] + data[33:], PREFIX_BYTES + 1) == (
        "the PNG file is damaged: it does not start with an image header (IHDR)"
    )


def test_a_jpeg_without_a_frame_header_is_refused() -> None:
    data = sample("face_frontal.jpg")
    start_of_scan = data.index(b"\xff\xda")
    headless = data[:2] + data[start_of_scan:]
    assert sniff(headless) == "jpeg"
    assert refusal(headless).startswith("the JPEG file is damaged: no frame header (SOF)")


def test_a_large_scan_streams_through_bounded_memory() -> None:
    triangles = 600_000
    inspector = ContentInspector()
    tracemalloc.start()
    try:
        for chunk in binary_stl(triangles):
            inspector.feed(chunk)
        content = inspector.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert inspector.size == 84 + 50 * triangles > 30_000_000
    assert content.facts == {"triangles": triangles, "encoding": "binary"}
    assert peak < 4 * (1 << 20)


def test_a_large_ascii_scan_streams_through_bounded_memory() -> None:
    block = ascii_stl(1000)
    body = block[block.index(b"\n") + 1 : block.rindex(b"endsolid")]
    inspector = ContentInspector()
    tracemalloc.start()
    try:
        inspector.feed(b"solid big\n")
        for _ in range(100):
            inspector.feed(body)
        inspector.feed(b"endsolid big\n")
        content = inspector.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert inspector.size > 100 * len(body) > 20_000_000
    assert content.facts == {"triangles": 100_000, "encoding": "ascii"}
    assert peak < 4 * len(body) + (1 << 20)
