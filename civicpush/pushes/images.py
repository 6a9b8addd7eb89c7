"""Push images: checked by their content with Pillow (never by name or client content type),
re-encoded so that no metadata (EXIF, GPS) survives, with a 320 px wide thumbnail."""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from civicpush.core.errors import ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 4096
THUMB_WIDTH = 320
# Pillow format name → (content type, extension)
ALLOWED: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


@dataclass(frozen=True)
class ProcessedImage:
    content: bytes
    thumbnail: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _invalid(message: object) -> ValidationFailed:
    return ValidationFailed(message, field_errors={"image": [message]})


def _read_limited(upload: IO[bytes] | bytes) -> bytes:
    data = bytes(upload) if isinstance(upload, bytes | bytearray) else upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _invalid(_("The image is larger than 5 MB."))
    if not data:
        raise _invalid(_("The file is empty."))
    return data


def _encode(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        img.save(out, "PNG", optimize=True)
    else:
        img.save(out, "WEBP", quality=85)
    return out.getvalue()


def process_image(upload: IO[bytes] | bytes) -> ProcessedImage:
    """Verify and re-encode an uploaded image; raise ValidationFailed (field "image") otherwise."""
    data = _read_limited(upload)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                probe.verify()
            if fmt not in ALLOWED:
                raise _invalid(_("Upload a JPEG, PNG or WebP image."))
            if width > MAX_SIDE or height > MAX_SIDE:
                raise _invalid(_("The image is larger than 4096 pixels on a side."))
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                img: Image.Image = opened
                # Apply the EXIF orientation, then drop every piece of metadata by re-encoding.
                img = ImageOps.exif_transpose(img) or img
                if img.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
                # A fresh copy with an empty info dict: encoders only write metadata passed to them.
                clean = img.copy()
                clean.info = {}
                content = _encode(clean, fmt)
                thumb = clean.copy()
                if thumb.width > THUMB_WIDTH:
                    thumb = thumb.resize(
                        (THUMB_WIDTH, max(1, round(thumb.height * THUMB_WIDTH / thumb.width))), Image.Resampling.LANCZOS
                    )
                thumbnail = _encode(thumb, fmt)
    except ValidationFailed:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
    ) as exc:
        raise _invalid(_("This file is not a valid JPEG, PNG or WebP image.")) from exc
    content_type, extension = ALLOWED[fmt]
    return ProcessedImage(
        content=content,
        thumbnail=thumbnail,
        content_type=content_type,
        extension=extension,
        width=clean.width,
        height=clean.height,
    )


def new_name(extension: str, suffix: str = "") -> str:
    return f"{uuid.uuid4().hex}{suffix}.{extension}"
