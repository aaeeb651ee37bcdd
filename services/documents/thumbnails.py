"""Photo thumbnails: a small upright JPEG of a JPEG, PNG or HEIC photo, with none of the photo's metadata.

A case's photos are health data: the thumbnail keeps only pixels (no EXIF, so no GPS position, camera serial number
or capture time; no XMP, no comments). Colours are converted to sRGB when the photo embeds an ICC profile (a phone's
Display P3 photo would look washed out once the profile is dropped), and the EXIF orientation is applied so the
thumbnail shows upright without it.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

THUMBNAIL_LONGEST_SIDE = 320
"""The longest side of a thumbnail, in pixels; a smaller photo keeps its size."""

_JPEG_QUALITY = 85
_FORMATS = ("JPEG", "PNG", "HEIF")
_REDUCING_GAP = 2.0
_WHITE = (255, 255, 255)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, struct.error)


class ThumbnailError(Exception):
    """The file cannot be made into a thumbnail: it is not a JPEG, PNG or HEIC image that Pillow reads, it is
    damaged or truncated, or it declares more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb)."""


def make_thumbnail(source: BinaryIO) -> bytes:
    """A baseline JPEG (quality 85, 8-bit RGB, sRGB) of the photo in ``source``, a seekable binary file read from
    its current position: longest side :data:`THUMBNAIL_LONGEST_SIDE` px, aspect ratio kept, never enlarged, turned
    upright by the EXIF Orientation tag (0x0112, CIPA DC-008 / EXIF 2.3 §4.6.4). Transparency is flattened on white,
    palette, greyscale and 16-bit images become 8-bit RGB. No metadata of the photo is copied: no EXIF, XMP, ICC
    profile or comment. A JPEG is decoded at a reduced DCT scale (``Image.draft``), so a 50-megapixel photo is never
    held in full. Raises :class:`ThumbnailError` for a file that cannot be made into a thumbnail."""
    try:
        with Image.open(source, formats=_FORMATS) as image:
            _check_pixels(image)
            if image.format == "JPEG":
                image.draft("RGB", _scaled(image.size, _REDUCING_GAP * THUMBNAIL_LONGEST_SIDE))
            profile = image.info.get("icc_profile")
            image.thumbnail(
                (THUMBNAIL_LONGEST_SIDE, THUMBNAIL_LONGEST_SIDE), Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP
            )
            upright = ImageOps.exif_transpose(image)
            rgb = _to_srgb(_flattened(upright), profile)
    except Image.DecompressionBombError as exc:
        raise ThumbnailError(f"the image declares too many pixels ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ThumbnailError("the file is not a JPEG, PNG or HEIC image") from exc
    except _DAMAGED as exc:
        raise ThumbnailError(f"the image is damaged or truncated ({exc})") from exc
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=_JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _check_pixels(image: Image.Image) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and image.width * image.height > limit:
        raise ThumbnailError(f"the image declares {image.width}x{image.height} pixels, more than {limit} in all")


def _scaled(size: tuple[int, int], longest: float) -> tuple[int, int]:
    """``size`` shrunk to fit a ``longest``-sided square, aspect ratio kept, never enlarged."""
    factor = min(1.0, longest / max(size))
    return max(1, round(size[0] * factor)), max(1, round(size[1] * factor))


def _flattened(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit ``L``, ``RGB`` or ``CMYK``: 16-bit grey scaled to 8 bits, a palette expanded, any
    transparency (alpha band or PNG ``tRNS`` colour) composited on white."""
    if image.mode.startswith("I"):
        image = image.point(lambda value: value / 256, "L")
    if image.mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if "A" not in image.getbands():
        return image
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """``image`` as RGB, converted from its embedded ICC ``profile`` to sRGB when it has one that applies; an
    unusable profile is ignored."""
    if profile:
        try:
            return ImageCms.profileToProfile(image, io.BytesIO(profile), _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return image.convert("RGB")
