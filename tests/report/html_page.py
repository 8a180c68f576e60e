"""Read a sweep page the way a test needs it: tables by id (header, rows, cells), metrics, all text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Cell:
    text: str
    attrs: dict[str, str]


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Table:
    id: str
    header: list[Cell] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def column(self, name: str) -> list[str]:
        index = [cell.text for cell in self.header].index(name)
        return [row.cells[index].text for row in self.rows]

    def cell(self, row: Row, name: str) -> Cell:
        return row.cells[[cell.text for cell in self.header].index(name)]


class Page(HTMLParser):
    """``Page(html)``: ``tables[id]``, ``metrics[name]`` (from ``data-metric``), ``text`` (visible words)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, Table] = {}
        self.metrics: dict[str, str] = {}
        self.labels: list[str] = []  # text of elements with class "label" (chart labels)
        self._words: list[str] = []
        self._table: Table | None = None
        self._row: Row | None = None
        self._cell: Cell | None = None
        self._in_head = False
        self._capture: list[tuple[int, str, list[str]]] = []  # (depth, kind, parts)
        self._depth = 0
        self._skip = 0
        self.feed(html)
        self.close()
        self.text = " ".join(" ".join(self._words).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag not in VOID:
            self._depth += 1
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "table":
            self._table = Table(a.get("id", ""))
            self.tables[self._table.id] = self._table
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag == "tr" and self._table is not None:
            self._row = Row(a)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = Cell("", a)
        if "data-metric" in a:
            self._capture.append((self._depth, "metric:" + a["data-metric"], []))
        if "label" in a.get("class", "").split():
            self._capture.append((self._depth, "label", []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._cell.text = " ".join(self._cell.text.split())
            self._row.cells.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if self._in_head:
                self._table.header = self._row.cells
            else:
                self._table.rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        while self._capture and self._capture[-1][0] == self._depth:
            _, kind, parts = self._capture.pop()
            text = " ".join(" ".join(parts).split())
            if kind == "label":
                self.labels.append(text)
            else:
                self.metrics[kind.removeprefix("metric:")] = text
        if tag not in VOID:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._words.append(data)
        if self._cell is not None:
            self._cell.text += data
        for _, _, parts in self._capture:
            parts.append(data)
