"""The one strict CSV reader of the library (label files, templates, submissions).

Strict means that nothing is guessed: the file is UTF-8 (an optional byte-order mark is
dropped), the first line is the header, and every row has exactly the header's number of fields.
Empty lines at the end of the file are ignored; anywhere else they are an error, like a row with
a field too many (``a,1,``) or too few, a stray quote or a byte that is not UTF-8. Every error is
a ``ValueError`` that names the file and the line.
"""

import csv
import io
import itertools
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .._constants import N_CLASSES
from ._labels import parse_target
from ..exceptions import InputError

# a label cell: class ids of ASCII digits separated by spaces (tabs and surrounding spaces allowed)
_LABELS = re.compile(r"[ \t]*[0-9]+(?:[ \t]+[0-9]+)*[ \t]*")


class CsvTable:
    """A parsed CSV: ``header`` (list of str), ``rows`` (lists of str, each as long as the header)
    and ``lines`` (the line of the file each row starts on, 1-based)."""

    def __init__(self, path, header, rows, lines):
        self.path, self.header, self.rows, self.lines = path, header, rows, lines

    def column(self, name):
        j = self.header.index(name)
        return [row[j] for row in self.rows]

    def where(self, i):
        """``'file, line N'`` of row ``i``, for error messages."""
        return f"{self.path}, line {self.lines[i]}"


def _decode(path, data):
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"{path}, line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at column "
            f"{column}); save the file as UTF-8."
        ) from None


def read_csv(path, *, expected="'Id,Target'"):
    """Read ``path`` strictly; return a :class:`CsvTable`.

    ``expected`` describes the header the caller wants, for the message of an empty file.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` (file and line) for
    anything that is not a well-formed UTF-8 CSV with a header.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    text = _decode(path, path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = list(reader)
    except csv.Error:
        records = None
    if records is not None and reader.line_num == len(records):
        starts = list(range(1, len(records) + 1))  # the common case: one line a record
    else:  # records spanning lines (quoted line breaks) or an error: track each start
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        records, starts, line = [], [], 0
        try:
            for record in reader:
                records.append(record)
                starts.append(line + 1)
                line = reader.line_num
        except csv.Error as exc:
            raise InputError(
                f"{path}, line {line + 1}: not a valid CSV row ({exc}); check the quotes."
            ) from None
    while records and not records[-1]:  # empty lines at the end
        records.pop()
        starts.pop()
    if not records:
        raise InputError(f"{path}: the file is empty; expected a header {expected}.")
    header, rows, lines = records[0], records[1:], starts[1:]
    if not header or header == [""]:
        raise InputError(f"{path}, line 1: empty header; expected {expected}.")
    repeated = [name for name, count in Counter(header).items() if count > 1]
    if repeated:
        raise InputError(f"{path}, line 1: column {repeated[0]!r} appears twice in the header.")
    width = len(header)
    if set(map(len, rows)) - {width}:
        _report_width(path, header, rows, lines)
    return CsvTable(path, header, rows, lines)


def _report_width(path, header, rows, lines):
    width = len(header)
    for row, start in zip(rows, lines):
        if len(row) != width:
            if not row:
                problem = "an empty line"
            else:
                problem = f"{len(row)} field(s) where the header {','.join(header)!r} has {width}"
                if len(row) > width and row[-1] == "":
                    problem += " (a trailing comma?)"
            raise InputError(f"{path}, line {start}: {problem}; every row needs {width}.")


def parse_labels(text, where, *, allow_empty=False):
    """Parse one label cell (``"16 0"``) into a sorted list of class ids, strictly: only ASCII
    digits separated by spaces (``"+1"``, ``"1_0"`` or ``"1.0"`` are errors, not numbers)."""
    if allow_empty and not text.strip(" \t"):
        return []
    if _LABELS.fullmatch(text) is None:
        parse_target(text, where=where)  # its message names the bad token
        raise InputError(
            f"{where}: malformed labels {text!r} (expected class ids of digits 0-9 separated "
            "by spaces, such as '16 0')."
        )
    return parse_target(text, where=where)


def parse_label_column(table, column, *, allow_empty=False):
    """The uint8 indicator matrix ``(n, 28)`` of a label column of ``table``."""
    cells = table.column(column)
    cache = {}
    for i, text in enumerate(cells):
        if text not in cache:
            cache[text] = parse_labels(text, table.where(i), allow_empty=allow_empty)
    per_row = [cache[text] for text in cells]
    counts = np.fromiter(map(len, per_row), dtype=np.intp, count=len(per_row))
    cols = np.fromiter(itertools.chain.from_iterable(per_row), dtype=np.intp, count=counts.sum())
    Y = np.zeros((len(cells), N_CLASSES), dtype=np.uint8)
    Y[np.repeat(np.arange(len(cells)), counts), cols] = 1
    return Y


def check_unique(ids, table):
    """Raise a ``ValueError`` naming the first duplicated id and all its lines."""
    if len(set(ids)) == len(ids):
        return
    counts = Counter(ids)
    dup = next(i for i in ids if counts[i] > 1)
    lines = [line for sample_id, line in zip(ids, table.lines) if sample_id == dup]
    raise InputError(
        f"{table.path}: duplicate Id {dup!r} on lines {lines}; every Id must appear once."
    )


def csv_text(header, rows):
    """The CSV text of ``header`` and ``rows`` (``\\n`` line ends, quotes only where needed: what
    pandas' ``to_csv`` writes), for :func:`hpa_sklearn._atomic.atomic_write_text`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
