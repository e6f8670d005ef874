"""What a user reads on a page, and the Latin words in it that are not codes or numbers: every
label the portal shows is Chinese (tests/test_every_url.py and the screenshot tour ask this)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Latin a Chinese user reads as it is: file formats and programs, units, image types, the
# footer's licence, a password hash's algorithm in the admin.
ALLOWED = {
    "MIT", "xlsx", "csv", "CSV", "Excel", "Word", "PDF", "docx", "kVA", "kW", "MB", "JPEG", "PNG",
    "WebP", "pbkdf2_sha256", "GBK", "UTF", "http", "https", "www",
}  # fmt: skip
# A word of three or more Latin letters standing alone: not part of a code (XF-0001, KRS-8P,
# DW-1409…), a number, a file name, an address or a masked value (the admin's hash: kSXjuN****).
WORD = re.compile(r"(?<![A-Za-z0-9_.\-/@:])[A-Za-z]{3,}(?![A-Za-z0-9_.\-/@*])")
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def shown_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def latin_words(html: str, *, also: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The Latin words a page shows outside codes, numbers and ALLOWED (and `also`: the names
    a test gave its own users and records)."""
    return {w for w in WORD.findall(shown_text(html)) if w not in ALLOWED and w not in also}
