"""The clinic's logo: an uploaded PNG or JPEG, checked like a photo and re-encoded as a small PNG.

What an upload may cost is bounded before any pixel is decoded, with the photo upload's checks
(anagen/outcomes/imaging.py): the file size, the pixel count read from the header, one decode at
a time, truncated files refused. Only PNG and JPEG are read (no SVG: a drawing can carry script);
the stored logo is a PNG we wrote ourselves from the pixels, at most ``MAX_LOGO_EDGE`` on its
long side, with no metadata, so nothing of the uploaded file but its picture is kept.

Printed documents carry the logo as a data URI (WeasyPrint fetches nothing); pages load it from
the clinic-logo address.
"""

from __future__ import annotations

import base64
import hashlib
import io

from django.core.exceptions import ValidationError

from anagen.outcomes import imaging

MAX_LOGO_EDGE = 600
MAX_LOGO_BYTES = 5 * 1024 * 1024
MAX_LOGO_PIXELS = 25_000_000

UNREADABLE = "This file is not a picture we can read: upload the logo as PNG or JPEG."


def _max_bytes() -> int:
    return min(MAX_LOGO_BYTES, imaging.max_bytes())


def _max_pixels() -> int:
    return min(MAX_LOGO_PIXELS, imaging.max_pixels())


def logo_encode(content: bytes) -> bytes:
    """Check and re-encode an uploaded logo: PNG bytes (or ValidationError on ``logo``)."""
    from PIL import Image, UnidentifiedImageError

    if not content:
        raise ValidationError({"logo": "The file is empty."})
    if len(content) > _max_bytes():
        raise ValidationError(
            {"logo": f"The logo is larger than {_max_bytes() // (1024 * 1024)} MB."}
        )
    try:
        with imaging.strict_decoding(), Image.open(io.BytesIO(content)) as img:
            # Header only so far: nothing is decoded until load().
            if img.format not in imaging.ACCEPTED_FORMATS:
                raise ValidationError({"logo": UNREADABLE})
            if img.width * img.height > _max_pixels():
                raise ValidationError(
                    {
                        "logo": f"The logo has more than {_max_pixels() // 1_000_000} megapixels "
                        f"({img.width} × {img.height}); a logo needs far fewer."
                    }
                )
            if img.format == "JPEG":
                img.draft("RGB", (MAX_LOGO_EDGE, MAX_LOGO_EDGE))
            img.load()
            transparent = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
            logo = img.convert("RGBA" if transparent else "RGB")
    except ValidationError:
        raise
    except OSError as exc:
        if "truncated" in str(exc) or "broken" in str(exc):
            raise ValidationError(
                {"logo": "This picture is incomplete or damaged; export it again."}
            ) from None
        raise ValidationError({"logo": UNREADABLE}) from None
    except (UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError({"logo": UNREADABLE}) from None
    logo.thumbnail((MAX_LOGO_EDGE, MAX_LOGO_EDGE), Image.Resampling.LANCZOS)
    logo.info.clear()  # pixels only: no metadata is written
    out = io.BytesIO()
    logo.save(out, format="PNG", optimize=True)
    return out.getvalue()


def logo_file_name(clinic_id: int, png: bytes) -> str:
    """``<clinic>-<hash>.png``: a new logo gets a new name (and so a new page address)."""
    return f"{clinic_id}-{hashlib.sha256(png).hexdigest()[:16]}.png"


def logo_bytes(clinic: object) -> bytes | None:
    """The stored logo's bytes, or None (no logo, or its file is gone: said in the log)."""
    field = getattr(clinic, "logo", None)
    if not field or not field.name:
        return None
    try:
        with field.storage.open(field.name, "rb") as fh:
            return bytes(fh.read())
    except (FileNotFoundError, OSError):
        imaging.alert_missing_file("clinic logo", getattr(clinic, "pk", None), field.name)
        return None


def logo_data_uri(clinic: object) -> str:
    """The logo as a data URI for a printed document, or "" (no logo: no image at all)."""
    content = logo_bytes(clinic)
    if content is None:
        return ""
    return "data:image/png;base64," + base64.b64encode(content).decode("ascii")


# The demo clinics' logos: drawn here when the demo is loaded (no picture file in the code).
DEMO_LOGO_COLOURS = ((0x1F, 0x6F, 0x6B), (0x6A, 0x3D, 0x7A))


def demo_logo(index: int = 0) -> bytes:
    """A simple emblem for demo clinic ``index``: hair strands rising from a scalp line, white on
    a rounded square of the clinic's colour. PNG bytes, as an uploaded logo is stored."""
    from PIL import Image, ImageDraw

    scale, edge = 3, 160  # drawn large, then reduced: smooth edges without extra work
    size = edge * scale
    colour = DEMO_LOGO_COLOURS[index % len(DEMO_LOGO_COLOURS)]
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=(*colour, 255))
    white = (255, 255, 255, 255)
    # The scalp: a shallow arc across the lower third.
    u = size / 16
    draw.arc((2 * u, 10 * u, 14 * u, 18 * u), start=200, end=340, fill=white, width=int(u * 0.7))
    # Three strands, each a quadratic curve from a root on the scalp, with its bulb.
    for root_x, lean in ((5.4, -1.0), (8.0, 1.2), (10.6, 3.0)):
        x0, y0 = root_x * u, 10.6 * u
        cx, cy = (root_x - 0.8) * u, 6.4 * u
        x1, y1 = (root_x + lean) * u, 3.0 * u
        points = []
        for step in range(25):
            t = step / 24
            points.append(
                (
                    (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t * t * x1,
                    (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t * t * y1,
                )
            )
        draw.line(points, fill=white, width=int(u * 0.55), joint="curve")
        r = u * 0.55
        draw.ellipse((x0 - r, y0 - r * 1.4, x0 + r, y0 + r * 1.4), fill=white)
    img = img.resize((edge, edge), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return logo_encode(out.getvalue())  # stored as an upload is: re-encoded, pixels only
