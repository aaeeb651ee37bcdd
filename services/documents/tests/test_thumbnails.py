"""Thumbnails of the real sample photos and of images made here: size, orientation, colour modes, metadata
stripped, and every kind of unreadable file refused with :class:`ThumbnailError`."""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
import pytest
from PIL import Image, ImageCms

from services.documents.thumbnails import THUMBNAIL_LONGEST_SIDE, ThumbnailError, make_thumbnail
from tests.harness.samples import CASE_01_DIR

SAMPLES = CASE_01_DIR
ORIENTATION = 0x0112
MAKE = 0x010F
BODY_SERIAL_NUMBER = 0xA431
GPS_IFD = 0x8825
GPS_LATITUDE_REF = 1


def _thumbnail_of(data: bytes) -> Image.Image:
    thumbnail = Image.open(io.BytesIO(make_thumbnail(io.BytesIO(data))))
    thumbnail.load()
    return thumbnail


def _saved(image: Image.Image, image_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **params)
    return out.getvalue()


def _assert_bare_jpeg(thumbnail: Image.Image) -> None:
    assert thumbnail.format == "JPEG"
    assert thumbnail.mode == "RGB"
    assert "exif" not in thumbnail.info
    assert "icc_profile" not in thumbnail.info
    assert len(thumbnail.getexif()) == 0


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize(
    ("name", "size"),
    [("frontal.png", (320, 240)), ("face_frontal.jpg", (256, 320)), ("face_profile.jpg", (320, 320))],
)
def test_real_samples_shrink_to_the_longest_side_keeping_their_aspect(name: str, size: tuple[int, int]) -> None:
    with (SAMPLES / name).open("rb") as source:
        thumbnail = Image.open(io.BytesIO(make_thumbnail(source)))
    assert thumbnail.size == size
    assert max(thumbnail.size) == THUMBNAIL_LONGEST_SIDE
    _assert_bare_jpeg(thumbnail)


def test_a_greyscale_jpeg_becomes_grey_rgb() -> None:
    grey = Image.open(SAMPLES / "face_profile.jpg").convert("L")
    thumbnail = _thumbnail_of(_saved(grey, "JPEG"))
    assert thumbnail.mode == "RGB"
    red, green, blue = thumbnail.getpixel((160, 160))
    assert abs(red - green) <= 2 and abs(green - blue) <= 2


def test_exif_orientation_6_is_turned_clockwise_and_no_exif_is_kept() -> None:
    photo = Image.new("RGB", (400, 200), (0, 0, 255))
    photo.paste((255, 0, 0), (0, 0, 200, 200))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "ACME-CAMERA"
    exif[BODY_SERIAL_NUMBER] = "SN-0042-SECRET"
    exif.get_ifd(GPS_IFD)[GPS_LATITUDE_REF] = "N"
    data = _saved(photo, "JPEG", exif=exif, quality=95)
    assert Image.open(io.BytesIO(data)).getexif()[ORIENTATION] == 6

    jpeg = make_thumbnail(io.BytesIO(data))
    thumbnail = Image.open(io.BytesIO(jpeg))
    assert thumbnail.size == (160, 320)
    _assert_bare_jpeg(thumbnail)
    assert b"Exif" not in jpeg and b"ACME-CAMERA" not in jpeg and b"SN-0042" not in jpeg
    top_red, _, top_blue = thumbnail.getpixel((80, 60))
    bottom_red, _, bottom_blue = thumbnail.getpixel((80, 260))
    assert top_red > 200 and top_blue < 60
    assert bottom_blue > 200 and bottom_red < 60


def test_a_heic_photo_is_read() -> None:
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this libheif has no HEVC encoder, so no HEIC sample can be made here")
    photo = Image.new("RGB", (640, 480), (30, 160, 90))
    heif = pillow_heif.from_pillow(photo)
    out = io.BytesIO()
    heif.save(out, quality=90)
    assert out.getvalue()[4:12] == b"ftypheic"
    thumbnail = _thumbnail_of(out.getvalue())
    assert thumbnail.size == (320, 240)
    _assert_bare_jpeg(thumbnail)
    red, green, blue = thumbnail.getpixel((160, 120))
    assert abs(red - 30) < 20 and abs(green - 160) < 20 and abs(blue - 90) < 20


def test_transparency_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (640, 320), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 320, 320))
    thumbnail = _thumbnail_of(_saved(image, "PNG"))
    assert thumbnail.size == (320, 160)
    assert all(channel > 245 for channel in thumbnail.getpixel((260, 80)))
    red, green, blue = thumbnail.getpixel((60, 80))
    assert red > 240 and green < 20 and blue < 20


def test_a_palette_png_with_a_transparent_colour_is_flattened_on_white() -> None:
    image = Image.new("P", (200, 100), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 100, 100))
    thumbnail = _thumbnail_of(_saved(image, "PNG", transparency=0))
    assert thumbnail.size == (200, 100)
    assert all(channel > 245 for channel in thumbnail.getpixel((150, 50)))
    assert thumbnail.getpixel((50, 50))[2] > 240


def test_16_bit_grey_is_scaled_to_8_bits_not_clipped() -> None:
    image = Image.new("I;16", (100, 100), 40000)
    thumbnail = _thumbnail_of(_saved(image, "PNG"))
    assert all(abs(channel - 40000 // 256) <= 2 for channel in thumbnail.getpixel((50, 50)))


def test_a_small_photo_is_not_enlarged() -> None:
    thumbnail = _thumbnail_of(_saved(Image.new("RGB", (120, 90), (10, 20, 30)), "PNG"))
    assert thumbnail.size == (120, 90)


def test_an_embedded_icc_profile_is_applied_and_not_copied() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _saved(Image.new("RGB", (400, 400), (200, 100, 50)), "JPEG", icc_profile=srgb, quality=95)
    thumbnail = _thumbnail_of(data)
    _assert_bare_jpeg(thumbnail)
    red, green, blue = thumbnail.getpixel((100, 100))
    assert abs(red - 200) < 8 and abs(green - 100) < 8 and abs(blue - 50) < 8


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"this is not an image at all" * 100, id="garbage"),
        pytest.param(_saved(Image.new("RGB", (64, 64)), "GIF"), id="gif, not a photo format"),
        pytest.param(_saved(Image.new("RGB", (64, 64)), "BMP"), id="bmp, not a photo format"),
        pytest.param(b"", id="empty"),
    ],
)
def test_files_that_are_not_photos_are_refused(data: bytes) -> None:
    with pytest.raises(ThumbnailError, match="not a JPEG, PNG or HEIC"):
        make_thumbnail(io.BytesIO(data))


def test_a_truncated_jpeg_is_refused() -> None:
    whole = (SAMPLES / "face_frontal.jpg").read_bytes()
    with pytest.raises(ThumbnailError, match="damaged or truncated"):
        make_thumbnail(io.BytesIO(whole[: len(whole) // 2]))


def test_a_png_declaring_ten_billion_pixels_is_refused_before_decoding() -> None:
    with pytest.raises(ThumbnailError, match="too many pixels"):
        make_thumbnail(io.BytesIO(_png_header_only(100_000, 100_000)))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_png_just_past_the_pixel_limit_is_refused() -> None:
    side = int(Image.MAX_IMAGE_PIXELS**0.5) + 10
    with pytest.raises(ThumbnailError, match=f"{side}x{side} pixels"):
        make_thumbnail(io.BytesIO(_png_header_only(side, side)))
