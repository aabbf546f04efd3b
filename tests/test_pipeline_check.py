import pytest
from django.core.exceptions import ImproperlyConfigured

from process.errors import PipelineError
from process.pipeline import build, find_cycle
from webapp.apps import WebappConfig


def test_it_builds_the_configured_pipeline_in_order(settings):
    pipeline = build(settings.ASSAY_PIPELINE)
    assert [task.name for task in pipeline] == [
        "fetch", "detect_format", "preview", "spreadsheet_to_json", "parse_json", "sample",
        "validate", "additional_fields", "stats", "links", "summary", "report",
        "json_to_spreadsheet",
    ]  # fmt: skip
    assert [task.name for task in pipeline.deferred] == ["json_to_spreadsheet"]


def test_it_rejects_a_cycle():
    with pytest.raises(PipelineError, match="cycle: first -> second -> first"):
        build(["tests.pipeline_tasks.First", "tests.pipeline_tasks.Second"])


def test_it_rejects_an_unknown_task():
    with pytest.raises(PipelineError, match=r"tasks\.nope\.Missing"):
        build(["tasks.detect.DetectFormat", "tasks.nope.Missing"])


def test_it_rejects_something_that_is_not_a_task():
    with pytest.raises(PipelineError, match="not a Task class"):
        build(["webapp.models.Submission"])


def test_it_rejects_a_requirement_that_comes_later():
    with pytest.raises(PipelineError, match="'double' requires count, which come"):
        build(["tests.pipeline_tasks.Double", "tests.pipeline_tasks.Count"])


def test_it_rejects_a_requirement_missing_from_the_pipeline():
    with pytest.raises(PipelineError, match="'double' requires unknown task"):
        build(["tests.pipeline_tasks.Double"])


def test_it_rejects_the_same_task_twice():
    with pytest.raises(PipelineError, match="twice: count"):
        build(["tests.pipeline_tasks.Count", "tests.pipeline_tasks.Count"])


def test_find_cycle_reports_nothing_for_a_chain():
    assert find_cycle({"a": (), "b": ("a",), "c": ("b", "a")}) == []


def test_start_up_fails_loudly_naming_the_setting(settings):
    settings.ASSAY_PIPELINE = ["tests.pipeline_tasks.First", "tests.pipeline_tasks.Second"]
    import webapp

    with pytest.raises(ImproperlyConfigured, match="ASSAY_PIPELINE: Pipeline has a cycle"):
        WebappConfig("webapp", webapp).ready()
