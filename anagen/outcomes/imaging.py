"""Decoding uploaded photos in bounded memory, refusing what we cannot read (issue 13).

What an upload may cost is decided before a single pixel is decoded:

* the file size (``ANAGEN_UPLOAD_MAX_BYTES``, 25 MB by default) and the pixel count read from the
  header by a lazy ``Image.open`` (``ANAGEN_UPLOAD_MAX_PIXELS``, 40 MP by default);
* a JPEG is decoded with ``draft``: the decoder scales by 1/2, 1/4 or 1/8 while it decodes, so a
  40 MP JPEG never exists at full size in memory (only at the smallest scale still at least
  ``MAX_PHOTO_EDGE`` on its long side);
* formats without a scaled decoder (PNG) are decoded once at full size (one copy, at most
  ``max pixels × bands`` bytes: 160 MB for a 40 MP RGBA image), then converted and box-reduced in
  strips of rows into a small image, so no second full-size copy (a mode conversion, a
  premultiplied copy, an orientation copy) ever exists; the full-size decode is dropped before
  the final resampling;
* one decode at a time per process (a lock), so a threaded server cannot multiply the figure.

The 113 KB, 7300 × 5470 PNG of the issue (39.9 MP, just under the 40 MP default) is therefore
accepted, and costs one full-size decode (~120 MB for RGB) instead of the ~350 MB it cost before
(three full-size copies); ``benchmarks/upload_memory.py`` measures the worker ceiling.

Truncated or corrupt files are refused: WeasyPrint sets Pillow's process-wide
``ImageFile.LOAD_TRUNCATED_IMAGES`` to True when it is imported (it prefers a half image in a PDF to
none); ``strict_decoding()`` forces it False around our own decode and puts back what it found.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PHOTO_EDGE = 3000  # the stored photo's long side
THUMB_EDGE = 320
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG"})
STRIP_ROWS = 256  # rows converted at a time (rounded to the reduction factor)

UNREADABLE = "This file is not a photo we can read (JPEG or PNG)."
TRUNCATED = "This photo is incomplete or damaged (the file ends early); take or export it again."

# Serialises decodes in this process (memory) and the flag flip below (it is process-wide).
_DECODE_LOCK = threading.Lock()

_ORIENTATION = 0x0112

# Operator alerts: a stored file that is gone is a storage incident, not a user error.
storage_log = logging.getLogger("anagen.outcomes.storage")


def alert_missing_file(what: str, pk: object, name: str | None) -> None:
    """Log (ERROR) that a stored file is gone; pages and downloads say so or answer 404."""
    storage_log.error(
        "Stored file missing: %s %s (file %r). Restore it from backup or retake it.",
        what,
        pk,
        name or "",
    )


def max_bytes() -> int:
    return int(getattr(settings, "ANAGEN_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_pixels() -> int:
    return int(getattr(settings, "ANAGEN_UPLOAD_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def _mp(n: int) -> str:
    return f"{n / 1_000_000:.0f} megapixels"


def check_size(size: int) -> None:
    """Refuse an upload by its size alone (before reading it)."""
    if size <= 0:
        raise ValidationError({"file": "The file is empty."})
    if size > max_bytes():
        raise ValidationError({"file": f"The photo is larger than {_mb(max_bytes())}."})


@contextmanager
def strict_decoding() -> Iterator[None]:
    """Pillow refuses truncated images inside this block, whatever WeasyPrint set globally."""
    from PIL import ImageFile

    with _DECODE_LOCK:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


@dataclass(frozen=True)
class Encoded:
    image: bytes  # JPEG, no metadata, orientation applied, long side <= MAX_PHOTO_EDGE
    thumbnail: bytes  # JPEG, long side <= THUMB_EDGE
    width: int
    height: int


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, edge / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _reduce_in_strips(img: Any, factor: int) -> Any:
    """RGB box reduction by ``factor`` of a loaded image, converting a strip of rows at a time.

    Only the strip (a few hundred rows) is ever converted; the result is 1/factor² of the size.
    """
    from PIL import Image

    w, h = img.size
    out = Image.new("RGB", (-(-w // factor), -(-h // factor)))
    rows = max(factor, STRIP_ROWS - STRIP_ROWS % factor)
    for top in range(0, h, rows):
        strip = img.crop((0, top, w, min(h, top + rows))).convert("RGB")
        small = strip.reduce(factor) if factor > 1 else strip
        out.paste(small, (0, top // factor))
        del strip, small
    return out


_TRANSPOSE = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}


def decode(content: bytes) -> Encoded:
    """Check, decode in bounded memory and re-encode an uploaded photo (or ValidationError)."""
    from PIL import Image, UnidentifiedImageError

    check_size(len(content))
    limit = max_pixels()
    try:
        with strict_decoding(), Image.open(io.BytesIO(content)) as img:
            # Header only so far: nothing is decoded until load().
            if img.format not in ACCEPTED_FORMATS:
                raise ValidationError({"file": UNREADABLE})
            if img.width * img.height > limit:
                raise ValidationError(
                    {"file": f"The photo has more than {_mp(limit)} ({img.width} × {img.height})."}
                )
            orientation = int(img.getexif().get(_ORIENTATION, 1) or 1)
            if img.format == "JPEG":
                # Decode at the smallest 1/2, 1/4, 1/8 scale that still covers the stored size.
                img.draft("RGB", _fit(img.size, MAX_PHOTO_EDGE))
            img.load()
            factor = max(1, max(img.size) // MAX_PHOTO_EDGE)
            reduced = _reduce_in_strips(img, factor)
        # The full-size decode is closed here; only the reduced copy is left.
    except ValidationError:
        raise
    except OSError as exc:
        if "truncated" in str(exc) or "broken" in str(exc):
            raise ValidationError({"file": TRUNCATED}) from None
        raise ValidationError({"file": UNREADABLE}) from None
    except (UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError({"file": UNREADABLE}) from None
    photo = reduced.resize(_fit(reduced.size, MAX_PHOTO_EDGE), Image.Resampling.LANCZOS)
    del reduced
    if orientation in _TRANSPOSE:
        photo = photo.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
    photo.info.clear()  # pixels only: no EXIF, GPS, maker notes or ICC comments are written
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=90)
    thumb = photo.resize(_fit(photo.size, THUMB_EDGE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    thumb_out = io.BytesIO()
    thumb.save(thumb_out, format="JPEG", quality=80)
    return Encoded(out.getvalue(), thumb_out.getvalue(), photo.width, photo.height)
