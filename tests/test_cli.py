"""`manage.py validate`, run as publishers run it in their CI: a real process, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from PIL import Image

from tasks.spreadsheet_to_json import MAX_WARNINGS
from tests.conftest import fixture

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "demo"


def validate(*args: str, tmp_path: Path, env: dict[str, str] | None = None):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "ASSAY_DATA_DIR": str(tmp_path / "data"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "validate", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("example", "code"),
    [
        ("grants-valid.json", 0),
        ("grants-invalid.json", 1),
        ("grants-valid.xlsx", 0),
        ("grants-invalid.xlsx", 1),
        ("grants.csv", 0),
    ],
)
def test_the_exit_code_says_valid_or_invalid(tmp_path, example, code):
    result = validate(str(EXAMPLES / example), tmp_path=tmp_path)
    assert result.returncode == code, result.stdout + result.stderr
    first_line = result.stdout.splitlines()[0]
    verdict = first_line.rsplit("): ", 1)[1]
    assert verdict == "valid" if code == 0 else verdict.startswith("NOT valid: ")


def test_the_help_names_the_profiles_the_default_and_the_formats(tmp_path):
    result = validate("--help", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "the profile to check against: demo or generic (default: demo)" in said
    assert "text: a summary (the default); json: the report document" in said
    assert "2 when it cannot be checked (data that cannot be read, a faulty schema" in said


def test_the_text_summary_groups_errors_and_places_them_in_the_sheet(tmp_path):
    result = validate(str(EXAMPLES / "grants-invalid.xlsx"), tmp_path=tmp_path)
    assert "(xlsx, profile demo): NOT valid: 12 errors" in result.stdout
    assert (
        "2 x /grants/*/amount: “currency” is missing  "
        "(e.g. sheet grants, row 2, column E, heading “amount/currency”)"
    ) in result.stdout
    assert (
        "not in the schema: /grants/*/notes (2 times)  "
        "(e.g. sheet grants, row 3, column U, heading “notes”)"
    ) in result.stdout


def test_json_output_is_the_report_document(tmp_path):
    result = validate(str(EXAMPLES / "grants-invalid.json"), "--format", "json", tmp_path=tmp_path)
    report = json.loads(result.stdout)
    assert (report["valid"], report["error_count"], report["profile"]) == (False, 13, "demo")
    assert len(report["errors"]) == 13
    assert report["errors"][0]["path"].startswith("/grants/")


def test_log_lines_never_mix_into_the_json_report(tmp_path):
    # A task that logs while the report is made (a crash, say) must not corrupt it.
    script = (
        "import logging, sys, django; django.setup(); "
        "from django.core.management import call_command; "
        "logging.getLogger('tasks').error('something went wrong'); "
        f"call_command('validate', {str(EXAMPLES / 'grants-valid.json')!r}, format='json')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    env["ASSAY_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert "something went wrong" in result.stderr
    assert json.loads(result.stdout)["valid"] is True


def test_data_that_cannot_be_read_exits_2_with_the_reason(tmp_path):
    result = validate(str(fixture("malformed.json")), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "not well-formed at line 4, column 5" in result.stdout
    as_json = validate(str(fixture("malformed.json")), "--format", "json", tmp_path=tmp_path)
    assert json.loads(as_json.stdout)["errors"][0]["code"] == "malformed_json"


def test_a_missing_file_or_unknown_profile_exits_2(tmp_path):
    missing = validate(str(tmp_path / "nope.json"), tmp_path=tmp_path)
    assert missing.returncode == 2
    assert "No such file or directory" in missing.stdout
    unknown = validate(str(EXAMPLES / "grants.csv"), "--profile", "nope", tmp_path=tmp_path)
    assert unknown.returncode == 2
    assert "unknown profile 'nope'" in unknown.stderr


@pytest.mark.parametrize(
    ("option", "code"),
    [("--profile=nope", "unknown_profile"), ("--schema=no.json", "schema_not_found")],
)
def test_an_option_that_cannot_be_used_still_gives_json_when_json_is_asked_for(
    tmp_path, option, code
):
    result = validate(str(EXAMPLES / "grants.csv"), option, "--format", "json", tmp_path=tmp_path)
    assert result.returncode == 2
    document = json.loads(result.stdout)  # a script reading stdout needs no other case
    assert document["valid"] is None
    assert [(error["task"], error["code"]) for error in document["errors"]] == [("options", code)]


def test_a_picture_exits_2_saying_it_is_not_data(tmp_path):
    picture = tmp_path / "grants.xlsx"  # named as data, but a PNG
    Image.new("RGB", (4, 4)).save(picture, "PNG")
    result = validate(str(picture), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "This is a PNG file, not data" in result.stdout
    as_json = json.loads(validate(str(picture), "--format", "json", tmp_path=tmp_path).stdout)
    assert as_json["errors"][0]["code"] == "not_data"


def test_a_schema_path_that_names_no_file_exits_2_not_1(tmp_path):
    # A typo in CI must not read as "the data is invalid".
    for schema, problem in [(tmp_path / "nope.json", "does not exist"), (tmp_path, "is a folder")]:
        result = validate(str(EXAMPLES / "grants.csv"), "--schema", str(schema), tmp_path=tmp_path)
        assert result.returncode == 2
        assert f"schema file {schema} {problem}" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_faulty_schema_is_said_once_though_each_step_that_reads_it_stops(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": "object", "properties": {"a": {"type": "strin"}}}')
    data = str(EXAMPLES / "grants-valid.json")
    result = validate(data, "--schema", str(schema), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stdout.count("is not a valid JSON Schema") == 1, result.stdout


def test_a_schema_given_on_the_command_line_is_used(tmp_path):
    schema = tmp_path / "strict.json"
    schema.write_text(json.dumps({"type": "object", "required": ["publisher"]}))
    result = validate(
        str(EXAMPLES / "grants-valid.json"), "--schema", str(schema), tmp_path=tmp_path
    )
    assert result.returncode == 1
    assert "“publisher” is missing" in result.stdout
    # The profile's own field paths (counted currencies) do not carry over to it.
    report = json.loads(
        validate(
            str(EXAMPLES / "grants-valid.json"), "--schema", str(schema), "--format", "json",
            tmp_path=tmp_path,
        ).stdout
    )  # fmt: skip
    assert report["stats"]["distinct"] == []


def test_a_number_as_text_in_a_cell_is_not_told_to_lose_quotes_it_has_not(tmp_path):
    # A number field flattentool does not see (a pattern's) reads a CSV's 5 as text.
    grant = {
        "properties": {"id": {"type": "string"}},
        "patternProperties": {
            "^n_": {"type": "number"},
            "^p_": {"oneOf": [{"type": "number"}, {"type": "null"}]},  # said in a detail
        },
    }
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"properties": {"grants": {"type": "array", "items": grant}}}))
    sheet = tmp_path / "grants.csv"
    sheet.write_text("id,n_a,p_a\nG1,5,\nG2,lots,7\n")
    result = validate(str(sheet), "--schema", str(schema), tmp_path=tmp_path)
    # One group: the advice no longer tells "5" from "lots".
    assert "2 x /grants/*/n_a: should be a number, not text  (e.g. sheet grants, row 2" in (
        result.stdout
    )
    assert "Closest is alternative 1: should be a number, not text" in result.stdout
    assert "quotes" not in result.stdout
    data = tmp_path / "grants.json"
    data.write_text(json.dumps({"grants": [{"id": "G1", "n_a": "5"}]}))
    result = validate(str(data), "--schema", str(schema), tmp_path=tmp_path)
    assert "/grants/*/n_a: should be a number, not text: write it without quotes" in result.stdout


def test_fields_not_in_the_schema_past_the_listed_ones_are_counted(tmp_path):
    data = tmp_path / "wide.json"
    data.write_text(json.dumps({"grants": [{f"extra{n}": n for n in range(502)}]}))
    summary = validate(str(data), "--profile", "demo", tmp_path=tmp_path).stdout
    assert summary.count("  not in the schema: /grants/*/extra") == 500
    assert "  not in the schema: 2 more fields" in summary
    document = json.loads(
        validate(str(data), "--profile", "demo", "--format", "json", tmp_path=tmp_path).stdout
    )
    assert (len(document["additional_fields"]), document["additional_field_count"]) == (500, 502)


def test_ids_used_more_than_once_are_said(tmp_path):
    data = tmp_path / "dup.json"
    grants = json.loads((EXAMPLES / "grants-valid.json").read_text())["grants"]
    data.write_text(json.dumps({"grants": [*grants, grants[0], grants[0]]}))
    summary = validate(str(data), "--profile", "demo", tmp_path=tmp_path).stdout
    assert f'  ids used more than once: 1, e.g. "{grants[0]["id"]}" (3 times)' in summary


def test_fields_named_twice_in_one_object_are_said(tmp_path):
    result = validate(str(fixture("field-named-twice.json")), tmp_path=tmp_path)
    assert result.returncode == 1  # the last "amount" read has its value as text
    assert (
        '  fields named more than once in the same object: 2, e.g. "amount" in /grants/0'
        ' (2 times), "currency" in /grants/1/amount (2 times); only the last value of each'
        " was read and checked"
    ) in result.stdout.splitlines()


def test_an_error_about_the_whole_document_says_so_and_counts_have_separators(tmp_path):
    data = tmp_path / "list.json"
    data.write_text(json.dumps([{"note": n} for n in range(1_200)]))
    summary = validate(str(data), tmp_path=tmp_path).stdout
    assert "1 x (the whole document): should be an object, not a list" in summary
    assert "not in the schema: /*/note (1,200 times)" in summary


def test_sample_mode_checks_only_the_first_items(tmp_path):
    grants = [{"id": "bad"} for _ in range(30)]
    data = tmp_path / "many.json"
    data.write_text(json.dumps({"grants": grants}))
    env = {"ASSAY_SAMPLE_ITEMS": "10"}
    whole = validate(str(data), "--format", "json", tmp_path=tmp_path, env=env)
    sampled = validate(str(data), "--sample", "--format", "json", tmp_path=tmp_path, env=env)
    assert json.loads(whole.stdout)["error_count"] == 30 * 4  # bad id, 3 missing fields
    assert json.loads(sampled.stdout)["error_count"] == 10 * 4
    summary = validate(str(data), "--sample", tmp_path=tmp_path, env=env).stdout
    assert "NOT valid: 40 errors in the sample" in summary
    assert "Sample mode: only the first items were checked (10 of 30 in /grants)" in summary


def test_a_url_is_fetched_and_checked(tmp_path, http_server):
    http_server.serve("/grants.json", (EXAMPLES / "grants-invalid.json").read_bytes())
    result = validate(
        http_server.url("/grants.json"),
        tmp_path=tmp_path,
        env={"ASSAY_ALLOW_PRIVATE_URLS": "1"},
    )
    assert result.returncode == 1
    assert "NOT valid: 13 errors" in result.stdout


@pytest.mark.parametrize(("path", "code"), [("/grants.json", 1), ("/gone.json", 2)])
@pytest.mark.parametrize("output", ["text", "json"])
def test_a_password_in_the_url_is_never_printed(tmp_path, http_server, path, code, output):
    http_server.serve("/grants.json", (EXAMPLES / "grants-invalid.json").read_bytes())
    url = http_server.url(path).replace("http://", "http://reader:s3cret@")
    result = validate(
        url, "--format", output, tmp_path=tmp_path, env={"ASSAY_ALLOW_PRIVATE_URLS": "1"}
    )
    assert result.returncode == code
    assert "s3cret" not in result.stdout + result.stderr
    if output == "text":
        assert result.stdout.startswith("http://reader:•••@127.0.0.1:")


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_password_in_the_url_is_not_printed_when_the_configuration_is_broken(tmp_path, output):
    result = validate(
        "https://reader:s3cret@example.org/data.json",
        *("--format", output),
        tmp_path=tmp_path,
        env={"ASSAY_SAMPLE_ITEMS": "lots"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "https://reader:•••@example.org/data.json" in result.stdout


def test_a_url_is_recognised_whatever_the_case_of_its_scheme(tmp_path, http_server):
    http_server.serve("/grants.json", (EXAMPLES / "grants-invalid.json").read_bytes())
    url = http_server.url("/grants.json").replace("http://", "HTTP://")
    result = validate(url, tmp_path=tmp_path, env={"ASSAY_ALLOW_PRIVATE_URLS": "1"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NOT valid: 13 errors" in result.stdout


def test_a_url_too_long_to_be_a_file_name_is_fetched(tmp_path, http_server):
    # A signed link's query is long: past the longest path the system takes, asking
    # whether a file is so named fails rather than saying no.
    path = "/grants.json?signature=" + "a" * 5000
    http_server.serve(path, (EXAMPLES / "grants-invalid.json").read_bytes())
    result = validate(
        http_server.url(path), tmp_path=tmp_path, env={"ASSAY_ALLOW_PRIVATE_URLS": "1"}
    )
    assert result.returncode == 1, result.stdout[-300:] + result.stderr[-300:]
    assert "NOT valid: 13 errors" in result.stdout


def validate_against_served_schema(tmp_path, http_server, schema: bytes, scheme: str, *args):
    """The valid demo example checked against ``schema``, served here, at its URL written
    with ``scheme`` (and whatever follows it) in place of "http://"."""
    http_server.serve("/schema.json", schema)
    url = http_server.url("/schema.json").replace("http://", scheme)
    return validate(
        str(EXAMPLES / "grants-valid.json"),
        *("--schema", url, *args),
        tmp_path=tmp_path,
        env={"ASSAY_ALLOW_PRIVATE_URLS": "1"},
    )


def test_a_schema_url_is_recognised_whatever_the_case_of_its_scheme(tmp_path, http_server):
    schema = b'{"required": ["title"]}'
    result = validate_against_served_schema(tmp_path, http_server, schema, "HTTP://")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "“title” is missing" in result.stdout


def test_a_url_of_another_scheme_is_said_to_be_one_that_cannot_be_fetched(tmp_path):
    result = validate("ftp://example.org/data.json", tmp_path=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "No such file" not in result.stdout
    assert "Only http and https URLs can be fetched" in result.stdout


def test_a_password_in_the_schema_s_url_is_not_printed_in_the_report(tmp_path, http_server):
    scheme, schema = "http://reader:s3cret@", b'{"type": "object"}'
    result = validate_against_served_schema(
        tmp_path, http_server, schema, scheme, "--format", "json"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["schema"]["source"].startswith("http://reader:•••@")
    assert "s3cret" not in result.stdout + result.stderr


def test_data_read_with_no_schema_is_not_called_valid(tmp_path):
    data = tmp_path / "d.json"
    data.write_text('{"anything": 1}')
    result = validate(str(data), "--profile", "generic", tmp_path=tmp_path)
    assert result.returncode == 0
    assert "read; the profile has no schema to check it against" in result.stdout
    assert "valid" not in result.stdout


def test_a_faulty_schema_is_given_once_though_several_steps_stop_at_it(tmp_path):
    schema = tmp_path / "mine.json"
    schema.write_text('{"properties": {"a": {"type": "nonsense"}}}')
    result = validate(
        str(EXAMPLES / "grants-valid.json"),
        *("--schema", str(schema), "--format", "json"),
        tmp_path=tmp_path,
    )
    assert result.returncode == 2
    [error] = json.loads(result.stdout)["errors"]
    assert (error["task"], error["code"]) == ("validate", "schema_invalid")
    assert error["message"].startswith("The schema mine.json is not a valid JSON Schema: ")
    assert error["hint"] == "This is a problem with the schema, not with your data."


def test_an_empty_schema_option_exits_2_rather_than_checking_against_the_profile(tmp_path):
    result = validate(str(EXAMPLES / "grants-valid.json"), "--schema", "", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "--schema was given no file or URL" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ({"ASSAY_LOG_LEVEL": "loud"}, "ASSAY_LOG_LEVEL must be one of DEBUG, INFO, WARNING, "),
        ({"ASSAY_PIPELINE": ""}, "ASSAY_PIPELINE names no tasks; leave it unset for the "),
        (
            {"ASSAY_PIPELINE": "tasks.detect.DetectFormat"},
            "ASSAY_PIPELINE: the pipeline must include tasks.report.Report",
        ),
    ],
)
def test_a_setting_that_would_check_nothing_or_crash_exits_2_saying_so(tmp_path, setting, said):
    result = validate(str(EXAMPLES / "grants-valid.json"), tmp_path=tmp_path, env=setting)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"configuration: {said}" in result.stdout


@pytest.mark.parametrize("level", ["debug", "Warn", "NOTSET"])
def test_a_log_level_is_read_in_any_case_and_by_any_name_logging_knows(tmp_path, level):
    result = validate(
        str(EXAMPLES / "grants-valid.json"), tmp_path=tmp_path, env={"ASSAY_LOG_LEVEL": level}
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_broken_configuration_exits_2_as_data_not_checked(tmp_path, output):
    result = validate(
        str(EXAMPLES / "grants-valid.json"),
        *("--format", output),
        tmp_path=tmp_path,
        env={"ASSAY_SAMPLE_ITEMS": "lots"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    said = "ASSAY_SAMPLE_ITEMS must be a whole number, got 'lots'."
    if output == "json":
        document = json.loads(result.stdout)
        assert document["valid"] is None
        assert document["errors"][0]["code"] == "configuration"
        assert document["errors"][0]["message"] == said
    else:
        assert f"configuration: {said}" in result.stdout


def test_a_faulty_profile_in_the_config_file_is_said_to_be_there(tmp_path):
    config = tmp_path / "assay.toml"
    config.write_text('[profiles.mine]\ntitle = "Mine"\nshcema = "mine.json"\n')
    result = validate(
        str(EXAMPLES / "grants-valid.json"), tmp_path=tmp_path, env={"ASSAY_CONFIG": str(config)}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    # ASSAY_PROFILES is no setting a user can find: the table they wrote is named.
    assert "ASSAY_PROFILES" not in result.stdout
    assert (
        "configuration: profile 'mine' has unknown setting(s): shcema (profiles are set as "
        "[profiles.NAME] tables in the ASSAY_CONFIG file)"
    ) in result.stdout


def test_a_schema_given_by_url_is_fetched_afresh_each_run(tmp_path, http_server):
    data = tmp_path / "d.json"
    data.write_text('{"b": 1}')
    schema = http_server.url("/s.json")
    run = [str(data), "--schema", schema]
    private = {"ASSAY_ALLOW_PRIVATE_URLS": "1"}
    http_server.serve("/s.json", b'{"type": "object", "required": ["a"]}')
    assert validate(*run, tmp_path=tmp_path, env=private).returncode == 1
    assert http_server.hits == ["/s.json"]  # once a run, though several steps read it
    http_server.serve("/s.json", b'{"type": "object"}')  # the schema's author mends it
    assert validate(*run, tmp_path=tmp_path, env=private).returncode == 0
    assert http_server.hits == ["/s.json", "/s.json"]


def test_the_text_summary_lists_conversion_warnings_with_their_cells(tmp_path):
    data = tmp_path / "grants.csv"
    # Saved as Windows-1252 (é is one byte), with an amount that is not a number.
    data.write_bytes(
        b"id,title,amount/value,amount/currency,awardDate\nG-001,Caf\xe9 grant,ten,GBP,2024-01-01\n"
    )
    result = validate(str(data), tmp_path=tmp_path)
    assert result.returncode == 1
    warnings = [line for line in result.stdout.splitlines() if "conversion warning" in line]
    assert "so it was read as Windows-1252" in warnings[0]
    assert '"ten"' in warnings[1]
    assert warnings[1].endswith("(sheet grants, row 2, column C, heading “amount/value”)")


def test_a_missing_object_is_placed_under_a_heading_that_can_be_added(tmp_path):
    data = tmp_path / "grants.csv"
    data.write_text("id,title,awardDate\nG-001,Orchard,2024-01-01\n")
    result = validate(str(data), tmp_path=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    # Not “amount”: a column of that heading is not read, the schema saying it is an object.
    assert "“amount” is missing  (e.g. sheet grants, row 2, heading “amount/value”)" in (
        result.stdout
    )


def test_the_text_summary_lists_links_that_do_not_work(tmp_path, http_server):
    grant = json.loads((EXAMPLES / "grants-valid.json").read_text())["grants"][0]
    grant["documents"] = [{"url": http_server.url("/gone.pdf")}]
    data = tmp_path / "grants.json"
    data.write_text(json.dumps({"grants": [grant]}))
    result = validate(str(data), tmp_path=tmp_path, env={"ASSAY_ALLOW_PRIVATE_URLS": "1"})
    assert result.returncode == 0  # a broken link is a warning, not an error
    assert f"link not working: {http_server.url('/gone.pdf')} (" in result.stdout


def test_many_warnings_are_cut_short_with_a_count(tmp_path):
    data = tmp_path / "grants.csv"
    rows = [f"G-{n:03},Grant,ten,GBP,2024-01-01" for n in range(25)]
    data.write_text("id,title,amount/value,amount/currency,awardDate\n" + "\n".join(rows))
    result = validate(str(data), tmp_path=tmp_path)
    warnings = [line for line in result.stdout.splitlines() if "conversion warning" in line]
    assert len(warnings) == 20
    assert (
        result.stdout.splitlines()[-1] == "  ...and 5 more warnings: --format json lists them all"
    )


def test_warnings_the_report_does_not_keep_are_still_counted(tmp_path):
    data = tmp_path / "grants.csv"
    rows = [f"G-{n:03},Grant,ten,GBP,2024-01-01" for n in range(MAX_WARNINGS + 30)]
    data.write_text("id,title,amount/value,amount/currency,awardDate\n" + "\n".join(rows))
    report = json.loads(validate(str(data), "--format", "json", tmp_path=tmp_path).stdout)
    assert report["conversion_warning_count"] == MAX_WARNINGS + 30
    assert len(report["conversion_warnings"]) == MAX_WARNINGS
    last = validate(str(data), tmp_path=tmp_path).stdout.splitlines()[-1]
    assert last == (
        f"  ...and {MAX_WARNINGS + 10:,} more warnings: "
        f"--format json lists the first {MAX_WARNINGS:,} conversion warnings"
    )


def test_a_recursive_schema_checks_a_spreadsheet_to_its_depth(tmp_path):
    organisation = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "parent": {"$ref": "#/$defs/org"},
        },
        "required": ["name"],
    }
    schema = tmp_path / "tree.json"
    schema.write_text(
        json.dumps(
            {
                "properties": {"grants": {"type": "array", "items": {"$ref": "#/$defs/org"}}},
                "$defs": {"org": organisation},
            }
        )
    )
    data = tmp_path / "orgs.csv"
    data.write_text("id,name,colour,parent/parent/parent/parent/colour\nO1,Leaf,green,blue\n")
    result = validate(str(data), "--schema", str(schema), tmp_path=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    # Four levels down, past where the schema's recursion is followed: still checked.
    assert "/grants/*/parent/parent/parent/parent: “name” is missing" in result.stdout
    assert "not in the schema: /grants/*/colour (once)" in result.stdout
    assert "/grants/*/parent/parent/parent/parent/colour" not in result.stdout


def test_counts_in_the_summary_are_written_with_thousands_separators(tmp_path):
    grant = json.loads((EXAMPLES / "grants-valid.json").read_text())["grants"][0]
    del grant["amount"]["currency"]
    data = tmp_path / "grants.json"
    data.write_text(json.dumps({"grants": [{**grant, "id": f"G-{n}"} for n in range(1200)]}))
    summary = validate(str(data), "--profile", "demo", tmp_path=tmp_path).stdout
    assert re.search(r": NOT valid: 1,\d{3} errors\n", summary)
    assert " 1,200 x /grants/*/amount: " in summary


def test_control_characters_in_the_data_are_shown_as_escapes_not_sent_to_the_terminal(tmp_path):
    data = tmp_path / "d.json"
    # A field name that would turn a terminal red and retitle its window.
    data.write_text(json.dumps({"grants": [{"id": "G-001", "\x1b[31mred\x1b]0;x\x07": 1}]}))
    result = validate(str(data), tmp_path=tmp_path)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "not in the schema: /grants/*/\\x1b[31mred\\x1b]0;x\\x07 (once)" in result.stdout


def test_the_json_output_escapes_the_control_characters_json_leaves_as_they_are(tmp_path):
    data = tmp_path / "d.json"
    # A C1 control (CSI, which terminals read as ESC [) and a line separator in a name.
    data.write_text(json.dumps({"grants": [{"id": "G-001", "\x9b31mX\u2028": 1}]}))
    result = validate(str(data), "--format", "json", tmp_path=tmp_path)
    assert "\x9b" not in result.stdout and "\u2028" not in result.stdout
    report = json.loads(result.stdout)  # still the same document
    assert report["additional_fields"][0]["path"] == "/grants/*/\x9b31mX\u2028"


def test_the_summary_says_why_no_alternative_matches_under_its_error(tmp_path):
    from tests.test_report import RECIPIENT

    schema = tmp_path / "recipients.json"
    items = {"properties": {"recipient": RECIPIENT}}
    schema.write_text(json.dumps({"properties": {"grants": {"items": items}}}))
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"grants": [{"recipient": {"id": "123"}}]}))
    result = validate(str(data), "--schema", str(schema), tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[1:3] == [
        "       1 x /grants/*/recipient: matches none of the allowed alternatives"
        "  (e.g. /grants/0/recipient)",
        "           Closest is alternative 2: at /grants/0/recipient/id, does not match the "
        "pattern ^[0-9]{8}$",
    ]
    report = json.loads(
        validate(str(data), "--schema", str(schema), "--format", "json", tmp_path=tmp_path).stdout
    )
    [error] = report["errors"]
    assert error["detail"] == result.stdout.splitlines()[2].strip()


def test_the_summary_places_why_no_alternative_matches_in_a_workbook_s_cells(tmp_path):
    org = {"type": "object", "properties": {"id": {"pattern": "^[0-9]{8}$"}}, "required": ["id"]}
    who = {
        "oneOf": [
            {"type": "object", "required": ["name", "address"]},
            {"type": "object", "properties": {"org": {"anyOf": [org]}}},
        ]
    }
    schema = tmp_path / "who.json"
    items = {"properties": {"id": {"type": "string"}, "who": who}}
    schema.write_text(json.dumps({"properties": {"grants": {"type": "array", "items": items}}}))
    workbook = openpyxl.Workbook()
    workbook.active.title = "grants"
    for row in (["id", "who/org/id", "who/org/name"], ["G1", "12", "Acme"], ["G2", None, "Acme"]):
        workbook.active.append(row)
    workbook.save(tmp_path / "grants.xlsx")
    result = validate(str(tmp_path / "grants.xlsx"), "--schema", str(schema), tmp_path=tmp_path)
    # The org is a row, not a cell, which is the error's own place: said once.
    assert result.stdout.splitlines()[1:3] == [
        "       2 x /grants/*/who: matches none of the allowed alternatives"
        "  (e.g. sheet grants, row 2)",
        "           Closest is alternative 2: matches none of the allowed alternatives (closest "
        "is alternative 1: at sheet grants, row 2, column B, heading “who/org/id”, does not "
        "match the pattern ^[0-9]{8}$)",
    ]
    report = json.loads(
        validate(
            str(tmp_path / "grants.xlsx"), "--schema", str(schema), "--format", "json",
            tmp_path=tmp_path,
        ).stdout
    )  # fmt: skip
    assert report["errors"][1]["detail"] == (
        "Closest is alternative 2: matches none of the allowed alternatives (closest is "
        "alternative 1: at sheet grants, row 3, column B, heading “who/org/id”, “id” is missing)"
    )
