"""Profiles from configuration: checked at start-up, fingerprinted by their schema files."""

import json
import time

import pytest

from process.errors import BadInput
from process.profiles import ProfileError, build_profiles
from tasks import profile_schema
from tasks.profile_schema import load_profile_schema


def write_schema(folder, content: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.json").write_text(json.dumps(content))


def test_a_profile_reads_its_settings(tmp_path):
    write_schema(tmp_path / "p", {"type": "object"})
    conf = {"x": {"title": "X", "schema": "p/schema.json", "root_list_path": "items"}}
    profile = build_profiles(conf, tmp_path)["x"]
    assert (profile.title, profile.root_list_path, profile.id_name) == ("X", "items", "id")
    assert profile.schema_path == tmp_path / "p" / "schema.json"


def test_unknown_settings_are_refused_by_name(tmp_path):
    with pytest.raises(ProfileError, match="unknown setting\\(s\\): shcema"):
        build_profiles({"x": {"shcema": "a.json"}}, tmp_path)


def test_a_missing_schema_file_is_refused(tmp_path):
    with pytest.raises(ProfileError, match=r"schema file .*missing\.json does not exist"):
        build_profiles({"x": {"schema": "missing.json"}}, tmp_path)


def test_a_schema_that_is_a_folder_is_refused_as_such(tmp_path):
    (tmp_path / "schemas").mkdir()
    with pytest.raises(ProfileError, match=r"schema file .*schemas is a folder"):
        build_profiles({"x": {"schema": "schemas"}}, tmp_path)


@pytest.mark.parametrize(
    ("conf", "said"),
    [
        # One text where a list is wanted was read as a list of its letters.
        (
            {"distinct_fields": "/records/*/kind"},
            "profile 'x': distinct_fields must be a list of texts, such as",
        ),
        ({"document_paths": ["/a", 3]}, "profile 'x': document_paths must be a list of texts"),
        (
            {"document_paths": ["records/*/link"]},
            "profile 'x': document_paths must be path patterns starting with '/'",
        ),
        ({"examples": "a.json"}, "profile 'x': examples must be a list of texts"),
        ({"title": ["A"]}, "profile 'x': title must be a text, got ['A']"),
        ({"root_list_path": 1}, "profile 'x': root_list_path must be a text, got 1"),
    ],
)
def test_a_setting_of_the_wrong_kind_is_refused_by_name(tmp_path, conf, said):
    with pytest.raises(ProfileError) as caught:
        build_profiles({"x": conf}, tmp_path)
    assert str(caught.value).startswith(said)


def test_missing_example_files_are_refused(tmp_path):
    with pytest.raises(ProfileError, match="example file\\(s\\) missing"):
        build_profiles({"x": {"examples": ["nope.json"]}}, tmp_path)


def test_the_fingerprint_follows_every_schema_file(tmp_path):
    write_schema(tmp_path / "p", {"type": "object"})
    conf = {"x": {"schema": "p/schema.json"}}
    before = build_profiles(conf, tmp_path)["x"].fingerprint
    (tmp_path / "p" / "other.json").write_text("{}")  # a $ref target beside the schema
    after = build_profiles(conf, tmp_path)["x"].fingerprint
    assert before != after
    assert build_profiles(conf, tmp_path)["x"].fingerprint == after


def test_a_url_schema_has_no_path(tmp_path):
    profile = build_profiles({"x": {"schema": "https://example.org/s.json"}}, tmp_path)["x"]
    assert profile.schema_is_url and profile.schema_path is None


def test_a_url_schema_that_cannot_be_fetched_is_said_to_be_the_profile_s_fault(
    tmp_path, settings, http_server
):
    settings.DATA_DIR = tmp_path
    url = http_server.url("/gone/schema.json")
    profile = build_profiles({"x": {"schema": url}}, tmp_path)["x"]
    with pytest.raises(BadInput) as caught:
        load_profile_schema(profile)
    assert caught.value.code == "schema_fetch"
    assert caught.value.message.startswith("The schema could not be fetched. ")
    assert caught.value.message.count(url) == 1
    assert "404" in caught.value.message
    assert caught.value.hint == "This is a problem with the schema, not with your data."


def url_schema_read_then_changed(tmp_path, settings, http_server):
    """A profile whose schema, given by URL, was read once, then changed at its address."""
    settings.DATA_DIR = tmp_path
    http_server.serve("/s.json", json.dumps({"type": "object", "required": ["a"]}).encode())
    profile = build_profiles({"x": {"schema": http_server.url("/s.json")}}, tmp_path)["x"]
    assert load_profile_schema(profile).schema["required"] == ["a"]
    http_server.serve("/s.json", json.dumps({"type": "object"}).encode())
    return profile


def test_a_url_schema_is_kept_a_while_then_fetched_again(
    tmp_path, settings, http_server, monkeypatch
):
    profile = url_schema_read_then_changed(tmp_path, settings, http_server)
    assert load_profile_schema(profile).schema["required"] == ["a"]  # its copy, kept
    assert http_server.hits == ["/s.json"]
    monkeypatch.setattr(profile_schema, "KEPT_SECONDS", 0)  # an hour later, say
    assert "required" not in load_profile_schema(profile).schema
    assert http_server.hits == ["/s.json", "/s.json"]


def test_a_url_schema_fetched_after_a_time_is_fetched_once_more_only(
    tmp_path, settings, http_server, monkeypatch
):
    profile = url_schema_read_then_changed(tmp_path, settings, http_server)
    # As the command line starts: a copy from before is not used, one from now is.
    monkeypatch.setattr(profile_schema, "FETCHED_AFTER", time.time())
    for _ in range(3):
        assert "required" not in load_profile_schema(profile).schema
    assert http_server.hits == ["/s.json", "/s.json"]


def test_a_url_schema_fetched_again_unchanged_is_not_read_again(
    tmp_path, settings, http_server, monkeypatch
):
    # Held in memory by content: a worker fetching hourly for months holds one copy.
    settings.DATA_DIR = tmp_path
    http_server.serve("/s.json", json.dumps({"type": "object"}).encode())
    profile = build_profiles({"x": {"schema": http_server.url("/s.json")}}, tmp_path)["x"]
    first = load_profile_schema(profile)
    monkeypatch.setattr(profile_schema, "KEPT_SECONDS", 0)
    assert load_profile_schema(profile) is first
    assert http_server.hits == ["/s.json", "/s.json"]


def test_a_url_schema_download_that_cannot_be_used_is_not_kept(tmp_path, settings, http_server):
    settings.DATA_DIR = tmp_path
    url = http_server.url("/s.json")
    http_server.serve("/s.json", b"<html>Down for maintenance</html>", content_type="text/html")
    profile = build_profiles({"x": {"schema": url}}, tmp_path)["x"]
    with pytest.raises(BadInput) as caught:
        load_profile_schema(profile)
    assert caught.value.message.startswith(f"The schema there cannot be used. {url}: ")
    assert "schema.json" not in caught.value.message.replace(url, "")
    http_server.serve("/s.json", json.dumps({"type": "object"}).encode())  # mended
    assert load_profile_schema(profile).schema["type"] == "object"


def test_a_schema_that_is_not_json_is_said_to_be_the_profile_s_fault(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "schema.json").write_text('{"type": "object",}')
    profile = build_profiles({"x": {"schema": "p/schema.json"}}, tmp_path)["x"]
    with pytest.raises(BadInput) as caught:
        load_profile_schema(profile)
    assert caught.value.code == "schema_json"
    assert caught.value.hint == "This is a problem with the schema, not with your data."
