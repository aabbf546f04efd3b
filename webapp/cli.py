"""Run the pipeline in-process on a file or URL, without the database: the `validate` CLI."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from process.errors import TaskError
from process.files import chunks_of, write_atomically
from process.profiles import Profile
from process.runner import run_pipeline
from process.store import MemoryStore
from tasks.profile_schema import schema_fingerprint
from tasks.schema import MAX_KINDS
from tasks.validate import place_words
from webapp.pipeline import get_pipeline
from webapp.profiles import get_profiles

VALID, INVALID, UNPROCESSABLE = 0, 1, 2
SHOWN_WARNINGS = 20  # lines of warnings in the text summary; the JSON report holds them all


@dataclass
class LocalSubmission:
    """A submission that lives in a temporary folder and in memory only."""

    files_dir: Path
    profile_obj: Profile
    source: str = "file"
    url: str = ""
    original_name: str = ""
    sha256: str = ""
    size: int | None = None
    format: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        self.store = MemoryStore(self)

    @property
    def profile(self) -> str:
        return self.profile_obj.name

    @property
    def original_path(self) -> Path:
        return self.files_dir / "original" / "data"

    @property
    def profile_fingerprint(self) -> str:
        return schema_fingerprint(self.profile_obj)

    def get_profile(self) -> Profile:
        return self.profile_obj

    def is_gone(self) -> bool:
        return False  # its folder lives as long as the command


@dataclass
class Outcome:
    code: int
    report: dict[str, Any] | None = None
    errors: list[tuple[str, TaskError]] = field(default_factory=list)


class UnusableOption(Exception):
    """A --profile or --schema that cannot be used: said before any data is read, as a
    mistyped option is not invalid data (exit 1)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def choose_profile(name: str | None, schema: str | None, default: str) -> Profile:
    profiles = get_profiles()
    if name and name not in profiles:
        known = ", ".join(profiles)
        raise UnusableOption("unknown_profile", f"unknown profile {name!r}; known: {known}")
    profile = profiles[name or default]
    if schema is not None and not schema.strip():  # an unset variable in a CI script, say
        raise UnusableOption("schema_not_found", "--schema was given no file or URL")
    if schema:
        # A schema path given on the command line is relative to where the command runs.
        # The profile's field paths (links, counted values) belong to its own schema.
        profile = replace(
            profile,
            name=f"{profile.name}+schema",
            schema=schema,
            base_dir=Path.cwd(),
            document_paths=(),
            distinct_fields=(),
        )
        if profile.schema_path is not None and not profile.schema_path.is_file():
            problem = "is a folder" if profile.schema_path.is_dir() else "does not exist"
            message = f"schema file {profile.schema_path} {problem}"
            raise UnusableOption("schema_not_found", message)
    return profile


def validate_source(source: str, profile: Profile, sample: bool) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="assay-") as folder:
        submission = LocalSubmission(Path(folder), profile, options={"sample": sample})
        if is_url(source):
            submission.source, submission.url = "url", source
        else:
            try:
                _copy_original(submission, Path(source))
            except OSError as exc:
                error = TaskError("unreadable", f"Cannot read {source}: {exc.strerror}.")
                return Outcome(UNPROCESSABLE, errors=[("read", error)])
        result = run_pipeline(submission, get_pipeline().main)
        if result.failures:
            return Outcome(UNPROCESSABLE, errors=_distinct(result.failures.items()))
        report_file = submission.files_dir / "report" / "report.json"
        if not report_file.exists():  # a picture or a PDF: previewed on the site, not checked
            return Outcome(UNPROCESSABLE, errors=[("detect_format", _not_data(submission))])
        report = json.loads(report_file.read_bytes())
        return Outcome(VALID if report["valid"] else INVALID, report)


# "scheme://": a URL, to be fetched (which refuses any but http and https, saying so).
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(source: str) -> bool:
    """Schemes are read in any case (HTTPS://); a file of that name is still a file."""
    # Not Path.exists, which raises for a name longer than the system takes (a long URL).
    return bool(URL_SCHEME.match(source)) and not os.path.exists(source)  # noqa: PTH110


def _distinct(failures: Iterable[tuple[str, TaskError]]) -> list[tuple[str, TaskError]]:
    """Each reason once, with the first step it stopped: a faulty schema stops each step
    that reads it, for one reason."""
    said: set[tuple[str, str]] = set()
    distinct = []
    for name, error in failures:
        if (error.code, error.message) not in said:
            said.add((error.code, error.message))
            distinct.append((name, error))
    return distinct


def _not_data(submission: LocalSubmission) -> TaskError:
    kind = submission.format.upper() or "this kind of"
    return TaskError(
        "not_data",
        f"This is a {kind} file, not data: there is nothing to check against a schema.",
        hint="The command line checks JSON, CSV, XLSX and ODS files.",
    )


def _copy_original(submission: LocalSubmission, path: Path) -> None:
    with path.open("rb") as handle:
        written = write_atomically(submission.original_path, chunks_of(handle))
    submission.original_name = path.name
    submission.size, submission.sha256 = written.size, written.sha256


def text_summary(outcome: Outcome, source: str) -> str:
    if outcome.report is None:
        lines = [f"{source}: could not be checked."]
        for name, error in outcome.errors:
            lines.append(f"  {name}: {error.message}")
            if error.hint:
                lines.append(f"  What to do: {error.hint}")
    else:
        lines = _report_lines(outcome.report, source)
    return "\n".join(line.translate(CONTROLS_SHOWN) for line in lines)


# Control characters in the data (field names, values, sheet names) are shown as escapes:
# written as they are, an escape sequence would recolour a terminal, retitle its window or
# rewrite lines of a CI log.
CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
CONTROLS_SHOWN = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in CONTROLS}
# In JSON text, those JSON leaves as they are (DEL, C1, line separators), as JSON escapes:
# only inside strings can they be, where an escape means the same character.
CONTROLS_ESCAPED_IN_JSON = {code: f"\\u{code:04x}" for code in CONTROLS if code >= 0x7F}


def _report_lines(report: dict[str, Any], source: str) -> list[str]:
    count = report["error_count"]
    sample = report.get("sample") or {}
    verdict = "valid" if report["valid"] else f"NOT valid: {count:,} error{'s' * (count != 1)}"
    if not report.get("checked_against_schema", True):
        verdict = "read; the profile has no schema to check it against"
    if sample.get("sampled"):
        verdict += " in the sample"
    lines = [f"{source} ({report['format']}, profile {report['profile']}): {verdict}"]
    lines += _sample_lines(sample)
    for group in report["error_groups"]:
        example = group["examples"][0] if group["examples"] else {}
        place = _place(example)
        where = group["path_pattern"] or "(the whole document)"  # "" points at the top
        lines.append(f"  {group['count']:>6,} x {where}: {group['message']}{place}")
        if example.get("detail"):  # why the example's alternatives failed, under it
            lines.append(f"{'':11}{example['detail']}")
    if ungrouped := report.get("ungrouped_error_count", 0):
        lines.append(
            f"  {ungrouped:>6,} x of other kinds (the first {MAX_KINDS:,} kinds are grouped)"
        )
    for extra in report["additional_fields"]:
        times = "once" if extra["count"] == 1 else f"{extra['count']:,} times"
        place = _place(extra["examples"][0]) if extra.get("examples") else ""
        lines.append(f"  not in the schema: {extra['path']} ({times}){place}")
    unlisted = report.get("additional_field_count", 0) - len(report["additional_fields"])
    if unlisted > 0:
        lines.append(f"  not in the schema: {unlisted:,} more fields")
    return lines + _duplicate_lines(report) + _repeated_field_lines(report) + _warning_lines(report)


def _duplicate_lines(report: dict[str, Any]) -> list[str]:
    """Ids used more than once: no schema says so, but the data is likely wrong."""
    repeated = (report.get("stats") or {}).get("duplicate_ids") or {}
    if not repeated.get("count"):
        return []
    examples = ", ".join(
        f"{json.dumps(value, ensure_ascii=False)} ({count:,} times)"
        for value, count in repeated["examples"][:3]
    )
    return [f"  ids used more than once: {repeated['count']:,}, e.g. {examples}"]


def _repeated_field_lines(report: dict[str, Any]) -> list[str]:
    """Fields named twice in one object: only the last value was read, and checked."""
    repeated = (report.get("stats") or {}).get("repeated_fields") or {}
    if not repeated.get("count"):
        return []
    examples = ", ".join(
        f"{json.dumps(place['field'], ensure_ascii=False)} in "
        f"{place['path'] or 'the top-level object'} ({place['times']:,} times)"
        for place in repeated["examples"][:3]
    )
    return [
        f"  fields named more than once in the same object: {repeated['count']:,}, e.g. "
        f"{examples}; only the last value of each was read and checked"
    ]


def _warning_lines(report: dict[str, Any]) -> list[str]:
    """Warnings do not change the verdict, but a publisher should still read them."""
    lines = [
        f"  conversion warning: {warning['message']}"
        + (f"  ({place_words(warning)})" if warning["sheet"] else "")
        for warning in report["conversion_warnings"]
    ]
    lines += [
        f"  link not working: {link['url']} ({link['error'] or 'no answer'})"
        for link in report["link_warnings"]
    ]
    listed = len(report["conversion_warnings"])
    unlisted = report["conversion_warning_count"] - listed  # the report keeps the first ones
    more = len(lines) - SHOWN_WARNINGS + unlisted
    if more > 0:
        where = f"the first {listed:,} conversion warnings" if unlisted else "them all"
        lines[SHOWN_WARNINGS:] = [f"  ...and {more:,} more warnings: --format json lists {where}"]
    return lines


def _sample_lines(sample: dict[str, Any]) -> list[str]:
    if not sample:
        return []
    if not sample["sampled"]:
        return [
            "Sample mode: every top-level list is shorter than "
            f"{sample['sample_size']:,} items, so everything was checked."
        ]
    cut = [row for row in sample["lists"] if row["items"] > row["checked"]]
    lists = ", ".join(f"{row['checked']:,} of {row['items']:,} in {row['path']}" for row in cut)
    return [f"Sample mode: only the first items were checked ({lists}); the rest was not."]


def _place(error: dict[str, Any]) -> str:
    source = error.get("source") or {}
    if source.get("sheet"):
        return f"  (e.g. {place_words(source)})"
    return f"  (e.g. {error['path']})" if error.get("path") else ""


def json_failure(outcome: Outcome, source: str) -> dict[str, Any]:
    """What --format json prints when the data could not be checked at all."""
    return {
        "source": source,
        "valid": None,
        "errors": [
            {"task": name, "code": error.code, "message": error.message, "hint": error.hint}
            for name, error in outcome.errors
        ],
    }


def json_unusable(problem: UnusableOption, source: str) -> dict[str, Any]:
    """What --format json prints for an option that cannot be used: the same shape, so
    that a script reading the output needs no other case."""
    error = {"task": "options", "code": problem.code, "message": problem.message, "hint": ""}
    return {"source": source, "valid": None, "errors": [error]}
