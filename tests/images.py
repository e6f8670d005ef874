"""Real, tiny images for the photo uploads (the upload decodes them: first bytes are not enough)."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(kind: str = "JPEG", size: tuple[int, int] = (4, 3)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 30)).save(out, kind)
    return out.getvalue()


JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG")
