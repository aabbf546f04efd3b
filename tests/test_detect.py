"""Recognising formats from content, whatever the file is called."""

import gzip
import io
import zipfile

import pytest

from process.errors import BadInput
from tasks.detect import detect
from tests.conftest import fixture


def write(tmp_path, data: bytes):
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    return path


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'  {"a": 1}', {"format": "json", "encoding": "utf-8"}),
        (b"\xef\xbb\xbf[1, 2]", {"format": "json", "encoding": "utf-8-sig"}),
        ('{"a": 1}'.encode("utf-16"), {"format": "json", "encoding": "utf-16"}),
        ('{"a": 1}'.encode("utf-16-le"), {"format": "json", "encoding": "utf-16-le"}),
        (b"id,title\n1,a\n", {"format": "csv", "encoding": "utf-8"}),
        (b"id;title\n1;a\n", {"format": "csv", "encoding": "utf-8"}),
        ("id,title\n1,Café\n".encode("cp1252"), {"format": "csv", "encoding": "cp1252"}),
        ("id,title\n1,Café\n".encode()[:-2], {"format": "csv", "encoding": "utf-8"}),  # é cut
        (b"%PDF-1.7\n...", {"format": "pdf", "encoding": None}),
        (b"\x89PNG\r\n\x1a\n....", {"format": "png", "encoding": None}),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", {"format": "webp", "encoding": None}),
        (b'"just a string"', {"format": "json", "encoding": "utf-8"}),
        ("id,title\r\nG1,Łódź\r\n".encode("utf-16-be"), {"format": "csv", "encoding": "utf-16-be"}),
        (b"sep=|\r\nid|title\r\n", {"format": "csv", "encoding": "utf-8"}),
    ],
)
def test_it_recognises_formats_by_content(tmp_path, data, expected):
    assert detect(write(tmp_path, data)) == expected


def test_it_recognises_xlsx_and_ods_inside_their_zip(tmp_path):
    xlsx = zipped({"[Content_Types].xml": b"", "xl/workbook.xml": b"<workbook/>"})
    ods = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"})
    assert detect(write(tmp_path, xlsx))["format"] == "xlsx"
    assert detect(write(tmp_path, ods))["format"] == "ods"


def test_a_zip_that_is_not_a_spreadsheet_is_explained(tmp_path):
    with pytest.raises(BadInput, match="a zip archive that is not a spreadsheet") as caught:
        detect(write(tmp_path, zipped({"readme.txt": b"hello"})))
    assert caught.value.code == "unknown_format"
    assert "JSON, CSV, XLSX and ODS" in caught.value.hint


@pytest.mark.parametrize(
    ("members", "kind"),
    [
        ({"xl/workbook.bin": b"\x83\x01"}, "an Excel binary workbook (.xlsb)"),
        (
            {
                "xl/workbook.xml": b'<workbook xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main"/>'
            },
            "an Excel workbook saved as “Strict Open XML”",
        ),
    ],
)
def test_an_excel_format_assay_cannot_read_is_named(tmp_path, members, kind):
    with pytest.raises(BadInput) as caught:
        detect(write(tmp_path, zipped({"[Content_Types].xml": b"", **members})))
    assert caught.value.message == f"This looks like {kind}, which Assay cannot read."
    assert "save it as an Excel workbook (.xlsx)" in caught.value.hint


def test_only_the_head_of_a_member_is_unpacked_to_know_the_format(tmp_path, monkeypatch):
    # A workbook part that unpacks to 200 MB of spaces (about 200 KB packed).
    path = tmp_path / "big.xlsx"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/workbook.xml", "w") as member,
    ):
        for _ in range(200):
            member.write(b" " * 1_000_000)
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *args: pytest.fail("unpacked whole"))
    assert detect(path)["format"] == "xlsx"


def test_a_member_whose_packed_data_is_broken_is_a_damaged_zip(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>" * 1000)
    data = bytearray(buffer.getvalue())
    start = 30 + len("xl/workbook.xml")  # past the member's local header: its packed data
    data[start : start + 8] = b"\xff" * 8
    with pytest.raises(BadInput, match="damaged or cut short"):
        detect(write(tmp_path, bytes(data)))


def test_a_damaged_zip_is_explained(tmp_path):
    with pytest.raises(BadInput, match="damaged or cut short") as caught:
        detect(write(tmp_path, b"PK\x03\x04garbage"))
    assert "save it again" in caught.value.hint


def test_a_csv_of_one_column_is_known_by_its_name(tmp_path):
    one_column = write(tmp_path, b"id\nG-101\nG-102\n")
    assert detect(one_column, "grants.CSV") == {"format": "csv", "encoding": "utf-8"}
    with pytest.raises(BadInput, match="neither JSON nor CSV"):
        detect(one_column, "grants.txt")


@pytest.mark.parametrize(
    "text", [b"}{", b"x", b'// a comment\n{"a": 1}', b"\n\n  }\n", b'x{"grants": [{"id": "G"}]}']
)
def test_text_named_json_is_read_as_json_so_its_fault_is_placed(tmp_path, text):
    assert detect(write(tmp_path, text), "grants.json")["format"] == "json"


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_a_csv_named_json_is_still_read_as_a_csv(tmp_path, end):
    text = end.join([b"id,title", b"G1,A", b""])
    assert detect(write(tmp_path, text), "grants.json")["format"] == "csv"


@pytest.mark.parametrize("text", [b"---\ntitle: x\n", b"- one\n- two\n"])
def test_yaml_and_lists_are_not_taken_for_json(tmp_path, text):
    with pytest.raises(BadInput, match="neither JSON nor CSV"):
        detect(write(tmp_path, text))


@pytest.mark.parametrize("text", [b"-1", b"-0.5", b" 7"])
def test_a_negative_number_is_json(tmp_path, text):
    assert detect(write(tmp_path, text))["format"] == "json"


def test_an_old_excel_workbook_is_named_with_what_to_do(tmp_path):
    with pytest.raises(BadInput, match=r"Excel 97-2003 workbook \(\.xls\)") as caught:
        detect(write(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512), "a.xls")
    assert "save it as .xlsx" in caught.value.hint


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (gzip.compress(b'{"grants": []}'), "a compressed file"),
        (bytes(range(256)) * 8, "a binary file, not text"),
        (b"<!DOCTYPE html>\n<html><meta content='width=device-width, scale=1'>", "a web page"),
        (b"  <html lang='en'><body>a,b</body></html>", "a web page"),
        (b'<?xml version="1.0"?>\n<grants><a>1,2</a></grants>', "XML"),
    ],
)
def test_what_is_not_data_is_named_not_taken_for_a_csv(tmp_path, data, words):
    # Each has a comma in its first line, which alone once made it a CSV.
    with pytest.raises(BadInput, match=words):
        detect(write(tmp_path, data))


def test_a_sep_line_counts_first_after_blank_lines_and_only_with_a_real_separator(tmp_path):
    for text in (b"sep=|\nid|title\n", b"\r\n\nsep=|\nid|title\n"):
        assert detect(write(tmp_path, text))["format"] == "csv"
    for text in (b"id\nsep=|\n", b'sep="\nid"title\n'):  # as the CSV reading reads it
        with pytest.raises(BadInput, match="neither JSON nor CSV"):
            detect(write(tmp_path, text))


def test_a_stray_control_character_does_not_make_text_binary(tmp_path):
    csv_text = b"id,title\r\n" + b"G1,Orchard\r\n" * 50 + b"\x1a"  # old DOS end of file
    assert detect(write(tmp_path, csv_text))["format"] == "csv"


def test_plain_words_are_not_mistaken_for_data():
    with pytest.raises(BadInput, match="neither JSON nor CSV"):
        detect(fixture("notes.txt"))


@pytest.mark.parametrize(
    "data",
    [b"", b"  \n\t ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \r\n", b"\xff\xfe \x00\n\x00"],
)
def test_an_empty_file_is_explained(tmp_path, data):
    with pytest.raises(BadInput, match="The file is empty") as caught:
        detect(write(tmp_path, data))
    assert caught.value.code == "empty_file"
