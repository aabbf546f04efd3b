"""Rebuild the demo's spreadsheet examples from its JSON examples.

    .venv/bin/python examples/build_examples.py

The XLSX files are the JSON examples flattened by the same code Assay uses for its
spreadsheet downloads; grants.csv is the main sheet of the valid one.
"""

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.spreadsheets import flatten  # noqa: E402

DEMO = ROOT / "examples" / "demo"
SCHEMA = ROOT / "profiles" / "demo" / "grants.schema.json"


def build(name: str) -> Path:
    with tempfile.TemporaryDirectory() as folder:
        made = flatten(
            DEMO / f"{name}.json",
            Path(folder),
            schema_path=SCHEMA,
            root_list_path="grants",
            id_name="id",
        )
        shutil.copy(made.xlsx, DEMO / f"{name}.xlsx")
        with zipfile.ZipFile(made.csv_zip) as archive:
            return Path(shutil.copy(_extract(archive, "grants.csv", Path(folder)), DEMO))


def _extract(archive: zipfile.ZipFile, member: str, folder: Path) -> Path:
    return Path(archive.extract(member, folder))


if __name__ == "__main__":
    build("grants-valid")  # leaves grants.csv: the main sheet of the valid data
    # Without the byte order mark the downloads carry for Excel: the example is a CSV as
    # most tools write it (the tests read one with a mark too).
    kept = (DEMO / "grants.csv").read_bytes().removeprefix(b"\xef\xbb\xbf")
    build("grants-invalid")
    (DEMO / "grants.csv").write_bytes(kept)
    print("wrote", ", ".join(sorted(path.name for path in DEMO.iterdir())))
