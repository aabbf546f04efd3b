import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.config import Config, database_from_url, redis_url_with_timeouts


def test_environment_beats_the_file_which_beats_the_default():
    config = Config(environ={"ASSAY_A": "3"}, file={"ASSAY_A": 2, "ASSAY_B": 5})
    assert config.int("ASSAY_A", 1) == 3
    assert config.int("ASSAY_B", 1) == 5
    assert config.int("ASSAY_C", 1) == 1


def test_a_bad_number_names_the_variable():
    config = Config(environ={"ASSAY_EXPIRE_DAYS": "seven"}, file={})
    with pytest.raises(ImproperlyConfigured, match="ASSAY_EXPIRE_DAYS must be a whole number"):
        config.int("ASSAY_EXPIRE_DAYS", 7)


def test_a_number_below_the_minimum_names_the_variable():
    config = Config(environ={"ASSAY_EXPIRE_DAYS": "0"}, file={})
    with pytest.raises(ImproperlyConfigured, match="ASSAY_EXPIRE_DAYS must be at least 1"):
        config.int("ASSAY_EXPIRE_DAYS", 7, minimum=1)


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("yes", True), ("off", False)])
def test_booleans_read_common_spellings(text, expected):
    assert Config(environ={"X": text}, file={}).bool("X", not expected) is expected


def test_an_empty_boolean_is_its_default():
    # docker/.env.example's commented-out lines show the defaults: uncommenting
    # "#ASSAY_SECURE_COOKIES=" must not turn secure cookies off in production.
    config = Config(environ={"ASSAY_SECURE_COOKIES": ""}, file={})
    assert config.bool("ASSAY_SECURE_COOKIES", True) is True
    assert not Config(environ={"ASSAY_DEBUG": " "}, file={}).bool("ASSAY_DEBUG", False)


def test_a_bad_boolean_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="ASSAY_DEBUG must be true or false"):
        Config(environ={"ASSAY_DEBUG": "maybe"}, file={}).bool("ASSAY_DEBUG", False)


def test_a_missing_required_value_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        Config(environ={}, file={}).str("SECRET_KEY")


def test_a_bad_choice_lists_the_choices():
    config = Config(environ={"ASSAY_ENV": "staging"}, file={})
    with pytest.raises(ImproperlyConfigured, match="development, production"):
        config.choice("ASSAY_ENV", "development", ("development", "production"))


def test_lists_come_comma_separated_from_the_environment():
    assert Config(environ={"H": "a.org, b.org"}, file={}).list("H", []) == ["a.org", "b.org"]


def test_an_unreadable_config_file_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ImproperlyConfigured, match="ASSAY_CONFIG: cannot read"):
        Config()


def test_a_config_file_is_read(tmp_path, monkeypatch):
    path = tmp_path / "assay.toml"
    path.write_text('ASSAY_EXPIRE_DAYS = 3\n[profiles.demo]\ntitle = "Demo"\n')
    monkeypatch.setenv("ASSAY_CONFIG", str(path))
    config = Config(environ={})
    assert config.int("ASSAY_EXPIRE_DAYS", 7) == 3
    assert config.table("profiles") == {"demo": {"title": "Demo"}}


def test_database_urls():
    assert database_from_url("sqlite:////tmp/a.db")["NAME"] == "/tmp/a.db"
    pg = database_from_url("postgres://me:s%40cret@db.example:5433/assay")
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == (
        "me",
        "s@cret",
        "db.example",
        "5433",
        "assay",
    )
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must start with"):
        database_from_url("mysql://x/y")


def test_the_docker_env_example_lists_every_setting_read_from_the_environment():
    root = Path(__file__).resolve().parent.parent
    read = set(
        re.findall(r'config\.\w+\(\s*"(ASSAY_\w+)"', (root / "webapp" / "settings.py").read_text())
    )
    # Named in a setting line or in a comment (one that compose.yml sets, say).
    listed = set(re.findall(r"\b(ASSAY_\w+)\b", (root / "docker" / ".env.example").read_text()))
    assert len(read) > 40
    assert read - listed == set()


def test_redis_urls_get_timeouts_unless_they_set_their_own():
    assert redis_url_with_timeouts("redis://h:6379/0") == (
        "redis://h:6379/0?socket_connect_timeout=2&socket_timeout=5"
    )
    assert redis_url_with_timeouts("rediss://u:p@h/1?socket_timeout=30") == (
        "rediss://u:p@h/1?socket_timeout=30&socket_connect_timeout=2"
    )
