"""The report's charts, drawn on the server with matplotlib (no browser in a .docx) in the CJK font
the repository ships (static/fonts/wqy-microhei-gb2312.ttf: WenQuanYi Micro Hei, Apache-2.0,
cut to GB 2312's characters). PNG bytes without a timestamp: the same figures draw the same."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server

from django.conf import settings
from matplotlib import font_manager
from matplotlib import pyplot as plt

FONT = Path(settings.BASE_DIR) / "static" / "fonts" / "wqy-microhei-gb2312.ttf"
_loaded = False


def _font() -> str:
    global _loaded
    if not _loaded:
        font_manager.fontManager.addfont(str(FONT))
        _loaded = True
    return font_manager.FontProperties(fname=str(FONT)).get_name()


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def bars(
    labels: list[str], series: list[tuple[str, list[float]]], *, title: str, unit: str
) -> bytes:
    """Horizontal bars, one group per label (a county), one bar per series (target, done)."""
    with plt.rc_context({"font.family": _font(), "axes.unicode_minus": False}):
        height = max(3.0, 0.35 * len(labels) * max(1, len(series)) + 1.2)
        figure, axes = plt.subplots(figsize=(7.5, height))
        width = 0.8 / max(1, len(series))
        positions = range(len(labels))
        colours = ["#c8c8c8", "#1f5fa8", "#2e8b57", "#d2691e"]
        for i, (name, values) in enumerate(series):
            axes.barh(
                [p + i * width for p in positions],
                values,
                height=width,
                label=name,
                color=colours[i % len(colours)],
            )
        axes.set_yticks([p + width * (len(series) - 1) / 2 for p in positions], labels)
        axes.invert_yaxis()
        axes.set_xlabel(unit)
        axes.set_title(title)
        axes.legend(loc="lower right")
        axes.grid(axis="x", alpha=0.3)
        figure.tight_layout()
        return _png(figure)
