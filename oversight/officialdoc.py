"""Chinese official documents (.docx) in the GB/T 9704 look: the upward dispatch report and the
self-evaluation report share it."""

from __future__ import annotations

from typing import Any

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

# GB/T 9704 (党政机关公文格式): A4, margins of 37 mm top, 35 bottom, 28 left, 26 right; the title
# in 小标宋 二号, headings 黑体 and 楷体 三号, the text 仿宋 三号, all black. Fonts are named as Word
# finds them on a government PC; where one is missing, Word substitutes its own.
FONT_TEXT, FONT_TITLE, FONT_H1, FONT_H2 = "仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312"
SIZE_TEXT, SIZE_TITLE, SIZE_TABLE = Pt(16), Pt(22), Pt(12)


def font(target: Any, name: str, size: Pt, *, bold: bool = False) -> None:
    """Set a style's or run's font, East Asian name included, in black."""
    target.font.name = name
    target.font.size = size
    target.font.bold = bold
    target.font.color.rgb = RGBColor(0, 0, 0)
    properties = target.element.get_or_add_rPr()
    properties.get_or_add_rFonts().set(qn("w:eastAsia"), name)


def official(document: Any) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    font(document.styles["Normal"], FONT_TEXT, SIZE_TEXT)
    for level, (name, bold) in {
        1: (FONT_H1, False),
        2: (FONT_H2, False),
        3: (FONT_H2, True),
    }.items():
        style = document.styles[f"Heading {level}"]
        font(style, name, SIZE_TEXT, bold=bold)
        style.paragraph_format.space_before, style.paragraph_format.space_after = Pt(6), Pt(6)


def title(document: Any, text: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    font(paragraph.add_run(text), FONT_TITLE, SIZE_TITLE)


def table(document: Any, header: list[str], rows: list[list[str]]) -> None:
    grid = document.add_table(rows=1, cols=len(header))
    grid.style = "Table Grid"
    for values in [header, *rows]:
        cells = grid.rows[0].cells if values is header else grid.add_row().cells
        for cell, text in zip(cells, values, strict=True):
            cell.text = ""
            font(cell.paragraphs[0].add_run(text), FONT_TEXT, SIZE_TABLE, bold=values is header)
