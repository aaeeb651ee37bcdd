"""Sending a document back: the file name header and byte ranges.

``Content-Disposition`` follows RFC 6266 with an ASCII ``filename`` fallback and the exact name in RFC 8187 (formerly
5987) ``filename*``; no character of the stored name can end the header or add one (quotes, backslashes and control
characters never reach it raw). Ranges follow RFC 9110 §14: one range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``;
several ranges, or a malformed header, are ignored (the whole file is sent); a range past the end is 416.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from shared.problems import ProblemError

_ATTR_CHARS = "!#$&+-.^_`|~"
"""RFC 8187 §3.2.1 ``attr-char`` besides letters and digits: kept as they are in ``filename*``."""
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9 !#$%&\'()*+,\-./:;<=>?@\[\]^_`{|}~]|["\\]')


def clean_filename(name: str) -> str:
    """The name a file is kept under: the last path segment of what the client sent (``/`` or ``\\`` separated),
    NFC-normalised, without control characters (CR, LF, NUL...) or surrounding spaces, at most 255 characters
    (keeping the extension); empty when nothing is left."""
    last = re.split(r"[/\\]", name)[-1]
    kept = "".join(c for c in unicodedata.normalize("NFC", last) if unicodedata.category(c)[0] != "C").strip()
    if len(kept) <= 255:
        return kept
    stem, dot, extension = kept.rpartition(".")
    if not dot or len(extension) > 16:
        return kept[:255]
    return stem[: 254 - len(extension)] + "." + extension


def ascii_fallback(name: str) -> str:
    """``name`` for the plain ``filename`` parameter: accents stripped (NFKD), other non-ASCII characters, quotes and
    backslashes replaced by ``_``; ``document`` when nothing is left."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _UNSAFE_ASCII.sub("_", plain).strip() or "document"


def content_disposition(name: str, *, inline: bool = False) -> str:
    """The ``Content-Disposition`` value for a file called ``name`` (already :func:`clean_filename`-ed)."""
    encoded = quote(name, safe=_ATTR_CHARS)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``(start, length)`` a ``Range`` header asks of a file of ``size`` bytes, None for the whole file; raises
    416 (:class:`~shared.problems.ProblemError`, with ``Content-Range: bytes */size``) when it starts past the end."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        length = min(int(last), size)
        if length == 0:
            raise _unsatisfiable(size)
        return size - length, length
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    end = min(int(last), size - 1) if last else size - 1
    return start, end - start + 1


def _unsatisfiable(size: int) -> ProblemError:
    return ProblemError(
        416, "Range Not Satisfiable", f"the file has {size} bytes", headers={"Content-Range": f"bytes */{size}"}
    )
