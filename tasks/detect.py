"""Recognise the format of the original from its content, not from its name."""

from __future__ import annotations

import codecs
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from process.errors import BadInput
from process.runner import Inputs
from process.store import Subject
from process.task import Task

SNIFF_BYTES = 64 * 1024
SIGNATURES = [
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
]
SUPPORTED = "JSON, CSV, XLSX and ODS data, and PDF, PNG, JPEG, GIF and WebP files to preview"


class DetectFormat(Task):
    name = "detect_format"
    # 4: text that is not UTF-8 is said to be Windows-1252; 3: a byte-order mark alone is
    # empty, .xlsb and Strict named; 2: one-column CSV
    version = 5
    title = "Recognise the format"

    def is_applicable(self, submission: Subject) -> bool:
        return bool(submission.sha256)

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        try:
            detected = detect(submission.original_path, submission.original_name)
        except BadInput as refused:
            if submission.source == "text" and refused.code == "unknown_format":
                raise _pasted(refused) from None  # there was no file to choose
            raise
        submission.store.set_facts(format=detected["format"])
        return detected


def _pasted(refused: BadInput) -> BadInput:
    return BadInput(
        refused.code,
        refused.message.replace("this file", "the pasted text"),
        hint=f"Assay reads {SUPPORTED}. Check what you pasted: all of it, and nothing else.",
    )


# Excel's first line "sep=;" names a CSV's separator (and is not a row); a quote or a
# space cannot be one (a tab can).
DECLARED_SEPARATOR = re.compile(r'sep=([^\r\n "])[ \t]*(?:\r\n|\r|\n|$)')
OLD_EXCEL = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the container of .xls (and .doc)


def detect(path: Path, name: str = "") -> dict[str, Any]:
    """Return {"format", "encoding"} for the file at ``path``, or raise BadInput.

    The content decides; the file's ``name`` only settles text that could be anything
    (a CSV of one column has no separator)."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not _without_mark(head).strip():
        raise BadInput("empty_file", "The file is empty.", hint="Choose a file with data in it.")
    if head.startswith(b"PK\x03\x04"):
        return {"format": _zip_format(path), "encoding": None}
    if head.startswith(OLD_EXCEL):
        raise BadInput(
            "old_excel",
            "This looks like an Excel 97-2003 workbook (.xls), which Assay cannot read.",
            hint="Open it in a spreadsheet program, save it as .xlsx, .ods or .csv, "
            "and upload that.",
        )
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return {"format": kind, "encoding": None}
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return {"format": "webp", "encoding": None}
    if head.startswith(b"\x1f\x8b"):
        raise BadInput(
            "compressed",
            "This is a compressed file (gzip), not the data itself.",
            hint="Unpack it (for example with gunzip) and upload the file inside.",
        )
    return _text_format(head, name)


# The namespace of Excel's "Strict Open XML" files, which openpyxl does not read.
STRICT_OPEN_XML = b"http://purl.oclc.org/ooxml/spreadsheetml/main"


def _excel_format_unread(kind: str) -> BadInput:
    return BadInput(
        "unsupported_excel",
        f"This looks like {kind}, which Assay cannot read.",
        hint="Open it in your spreadsheet program and save it as an Excel workbook (.xlsx), "
        "or as .ods or .csv, and upload that.",
    )


def _head(archive: zipfile.ZipFile, member: str, size: int) -> bytes:
    """The first bytes of a member, unpacking no more: it may unpack to gigabytes."""
    with archive.open(member) as stream:
        return stream.read(size)


def _zip_format(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                if STRICT_OPEN_XML in _head(archive, "xl/workbook.xml", 2000):
                    raise _excel_format_unread("an Excel workbook saved as “Strict Open XML”")
                return "xlsx"
            if "xl/workbook.bin" in names:
                raise _excel_format_unread("an Excel binary workbook (.xlsb)")
            if "mimetype" in names and b"opendocument.spreadsheet" in _head(
                archive, "mimetype", 100
            ):
                return "ods"
    # Each of these is a zip zipfile cannot unpack: damaged, cut short, packed in a way
    # it lacks (NotImplementedError), or encrypted (RuntimeError).
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise BadInput(
            "bad_zip",
            "The file looks like a spreadsheet (a zip archive) but is damaged or cut short.",
            hint="Upload it again; if it still fails, open it in your spreadsheet program "
            "and save it again.",
        ) from exc
    raise _unknown("a zip archive that is not a spreadsheet")


def _text_format(head: bytes, name: str) -> dict[str, Any]:
    encoding = _encoding(head)
    decoded = head.decode(encoding, errors="replace").lstrip("\ufeff")
    if DECLARED_SEPARATOR.match(decoded.lstrip("\r\n")):  # Excel's "sep=|", first of all
        return {"format": "csv", "encoding": encoding}
    text = decoded.lstrip(" \t\r\n")
    if text[:1] in {"{", "["}:
        return {"format": "json", "encoding": encoding}
    if not encoding.startswith("utf-16") and _looks_binary(head):
        raise _unknown("a binary file, not text")
    if text[:1] == "<":
        raise _markup(text)
    first_line, *rows = LINE_END.split(text, maxsplit=1)
    separated = any(separator in first_line for separator in (",", ";", "\t"))
    if name.lower().endswith(".json") and not (separated and any(row.strip() for row in rows)):
        # Meant as JSON, and not a table's headings and rows: the reading says what is wrong.
        return {"format": "json", "encoding": encoding}
    if separated:
        return {"format": "csv", "encoding": encoding}
    if name.lower().endswith(".csv"):  # one column: nothing to separate
        return {"format": "csv", "encoding": encoding}
    if JSON_SCALAR.match(text):
        return {"format": "json", "encoding": encoding}
    raise _unknown("text that is neither JSON nor CSV")


LINE_END = re.compile(r"\r\n|\r|\n")
# A document that is a string, a number (not YAML's "---" or a list's "- item") or a
# constant.
JSON_SCALAR = re.compile(r'"|-?[0-9]|true|false|null')


# Bytes that text, in any encoding Assay reads, does not hold: all controls but tab,
# line ends and form feed.
CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13})


def _looks_binary(head: bytes) -> bool:
    controls = len(head) - len(head.translate(None, CONTROL_BYTES))
    return controls > 2 and controls * 200 > len(head)  # a text has none, or a stray one


def _markup(text: str) -> BadInput:
    if text[:200].lower().lstrip("<!").startswith(("doctype html", "html", "head", "body")):
        return BadInput(
            "web_page",
            "This is a web page (HTML), not data.",
            hint="If you gave the address of a dataset's page, give the address of the data "
            "file itself: the download link on that page.",
        )
    return _unknown("XML or another markup, not JSON or CSV")


def _without_mark(head: bytes) -> bytes:
    """The head without a byte-order mark, and without UTF-16's zero bytes."""
    for mark in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(mark):
            return head[len(mark) :].replace(b"\x00", b"")
    return head


def _encoding(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if unmarked := utf16_without_mark(head):
        return unmarked
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:  # a letter cut in two at the end of the head is no fault of the file's
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"  # as the CSV reader then reads it; JSON is refused as not UTF-8
    return "utf-8"


def utf16_without_mark(raw: bytes) -> str | None:
    """UTF-16 saved without its byte order mark, told by the zero bytes of its first
    characters (headings and JSON's first characters are ASCII in practice):
    "utf-16-le", "utf-16-be", or None."""
    if len(raw) < 4 or raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if raw[1:4:2] == b"\x00\x00" and b"\x00" not in raw[0:4:2]:
        return "utf-16-le"
    if raw[0:4:2] == b"\x00\x00" and b"\x00" not in raw[1:4:2]:
        return "utf-16-be"
    return None


def _unknown(what: str) -> BadInput:
    return BadInput(
        "unknown_format",
        f"Assay could not recognise this file: it looks like {what}.",
        hint=f"Assay reads {SUPPORTED}. Check that you chose the right file.",
    )
