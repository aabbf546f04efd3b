"""The OpenAPI 3.1 description of webapp/api.py, served at /api/openapi.json.

Written by hand, and kept honest by the tests: every response the API tests receive is
validated against the schema given here for its path, method and status.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def response(description: str, schema: str, headers: dict[str, Any] | None = None):
    described: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": ref(schema)}},
    }
    if headers:
        described["headers"] = headers
    return described


def error_response(description: str) -> dict[str, Any]:
    return response(description, "Error")


SUBMISSION_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The submission's id, as returned when it was created.",
    "schema": {"type": "string", "format": "uuid"},
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
LOCATION = {
    "Location": {
        "description": "The new submission's status URL.",
        "schema": {"type": "string", "format": "uri"},
    }
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable; branch on this."},
                    "message": {"type": "string", "description": "For people."},
                    "field": {"type": "string"},
                    "limit": {"type": "integer", "description": "The limit, in bytes."},
                    "failures": {"type": "array", "items": ref("Failure")},
                    "results": {
                        "type": "string",
                        "format": "uri",
                        "description": "The results page, for a submission with no report.",
                    },
                },
            }
        },
    },
    "Failure": {
        "type": "object",
        "required": ["task", "title", "code", "message", "hint", "permanent"],
        "properties": {
            "task": {"type": "string"},
            "title": {"type": "string", "description": "The step's name, as the page gives it."},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "hint": {"type": "string", "description": "What to do, if anything can be."},
            "permanent": {
                "type": "boolean",
                "description": "A fault in the data itself, which trying again would meet "
                "again. Otherwise the fault may pass (a server that did not answer, say), "
                "and POST /api/submissions/{id}/retry tries again.",
            },
        },
    },
    "State": {
        "enum": ["pending", "running", "done", "failed", "expired"],
        "description": "pending with progress.done above 0 is a run waiting for a worker to "
        "carry on from its steps done (its worker stopped, or a retry came due).",
    },
    "Links": {
        "type": "object",
        "required": ["self", "results", "report"],
        "properties": {
            "self": {"type": "string", "format": "uri"},
            "results": {"type": "string", "format": "uri", "description": "The web page."},
            "report": {"type": "string", "format": "uri"},
            "original": {
                "type": "string",
                "format": "uri",
                "description": "The data as it was uploaded or fetched, once Assay has it, "
                "until it expires.",
            },
        },
    },
    "Download": {
        "type": "object",
        "required": ["name", "label", "content_type", "url"],
        "properties": {
            "name": {"type": "string", "description": "The file's name: data.xlsx, say."},
            "label": {"type": "string"},
            "content_type": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "Notice": {
        "type": "object",
        "description": "What a step's output should be known for, as its section of the "
        "results page says it. The spreadsheet downloads have not_objects, "
        "rows_not_joined, texts_cut_short, numbers_as_text, formula_like_texts, "
        "fields_beside_the_list, field_names_with_slash and shared_ids. Other facts, "
        "named for what they are (id_name, root_list_path, cell_limit...), may come with "
        "one.",
        "required": ["code", "count", "loses_data", "message"],
        "properties": {
            "code": {"type": "string", "description": "Stable; branch on this."},
            "count": {"type": "integer", "minimum": 1},
            "loses_data": {
                "type": "boolean",
                "description": "The files do not hold some of the data, or would not give it "
                "back as it is when read again.",
            },
            "message": {"type": "string", "description": "For people."},
            "examples": {
                "description": "The first few names or values it is about.",
                "type": "array",
            },
            "in_sample": {
                "type": "boolean",
                "description": "Found among the items checked in sample mode, not the whole file.",
            },
        },
    },
    "Created": {
        "type": "object",
        "required": ["id", "state", "links"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "state": ref("State"),
            "links": ref("Links"),
        },
    },
    "Status": {
        "type": "object",
        "required": ["id", "state", "progress", "tasks", "expires_at", "links"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "state": ref("State"),
            "progress": {
                "type": "object",
                "required": ["done", "total", "current"],
                "properties": {
                    "done": {"type": "integer", "minimum": 0},
                    "total": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "The steps that apply, as far as is known yet (the "
                        "format decides some); 0 until a worker has started.",
                    },
                    "current": {"type": "string", "description": "The running step's title."},
                    "elapsed": {
                        "type": "integer",
                        "description": "Seconds this run has taken, until now or until it "
                        "ended: since a worker first took it up, or else since it was first "
                        "sent to one. A run sent again (its worker stopped, a retry came due) "
                        "goes on counting, and keeps its steps done.",
                    },
                    "quiet_for": {
                        "type": ["integer", "null"],
                        "description": "Seconds since the worker running it was last heard "
                        "from, when longer than it should be: it may have stopped (the work "
                        "is then sent to another).",
                    },
                },
            },
            "tasks": {"type": "array", "items": ref("TaskStatus")},
            "retry_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When a step that failed for a passing reason is retried.",
            },
            "waiting_on": {
                "type": ["object", "null"],
                "description": "While a retry is due: the step that failed, and why.",
                "required": ["title", "message"],
                "properties": {"title": {"type": "string"}, "message": {"type": "string"}},
            },
            "expires_at": {"type": "string", "format": "date-time"},
            "links": ref("Links"),
        },
    },
    "TaskStatus": {
        "type": "object",
        "required": ["name", "title", "status"],
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "status": {
                "enum": [
                    "pending",
                    "running",
                    "ok",
                    "failed",
                    "skipped",
                    "available",
                    "unavailable",
                    "working",
                    "ready",
                ],
                "description": "Deferred steps are available, working, ready or failed; "
                "unavailable when what the checks found means they can give nothing (asking "
                "is refused with 409), with the reason.",
            },
            "reason": {
                "type": "string",
                "description": "Why a deferred step is unavailable, or why it failed last "
                "time (asking again may then work).",
            },
            "downloads": {
                "type": "array",
                "items": ref("Download"),
                "description": "For a step done (ok or ready) that offers files: those there "
                "are (the report as JSON and CSV, a spreadsheet as JSON, the spreadsheets "
                "of JSON data, a document's previews). None while what the step made is out "
                "of date (a schema changed since): the report, asked for, makes it again.",
            },
            "notices": {
                "type": "array",
                "items": ref("Notice"),
                "description": "For a step done: what its results should be known for.",
            },
        },
    },
    "DeferredStatus": {
        "type": "object",
        "required": ["name", "status"],
        "properties": {"name": {"type": "string"}, "status": {"type": "string"}},
    },
    "NewSubmission": {
        "type": "object",
        "description": "Exactly one of url and text. A field not listed is refused (400).",
        "oneOf": [{"required": ["url"]}, {"required": ["text"]}],
        "additionalProperties": False,
        "properties": {
            "url": {
                "type": "string",
                "format": "uri",
                "pattern": "^https?://[^\\u0000]+$",
                "maxLength": 2000,
                "description": "An http(s) URL whose host has a domain, IP address or "
                "localhost, and whose port, if given, is 1 to 65535.",
            },
            "text": {
                "type": "string",
                "pattern": "^[^\\u0000]*\\S[^\\u0000]*$",
                "description": "The data itself: not only spaces or byte-order marks, no NUL "
                "characters, and no lone surrogates (an unpaired \\ud800 escape in JSON).",
            },
            "profile": ref("Profile"),
            "sample": {"type": "boolean", "description": "Check only the first items."},
        },
    },
    "NewUpload": {
        "type": "object",
        "description": "Exactly one of file, url and text (curl -F file=@data.json, "
        "-F url=https://..., -F 'text=<data.json'). A part not listed is refused (400).",
        "oneOf": [{"required": ["file"]}, {"required": ["url"]}, {"required": ["text"]}],
        "additionalProperties": False,
        "properties": {
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
            "url": {"$ref": "#/components/schemas/NewSubmission/properties/url"},
            "text": {"$ref": "#/components/schemas/NewSubmission/properties/text"},
            "profile": ref("Profile"),
            "sample": {"type": "boolean"},
        },
    },
    "SchemaError": {
        "type": "object",
        "required": ["validator", "path", "schema_path", "message", "value"],
        "properties": {
            "validator": {"type": "string"},
            "path": {"type": "string", "description": "JSON Pointer into the data."},
            "schema_path": {
                "type": "string",
                "description": "Where the rule broken is written: a JSON Pointer into the "
                "profile's schema, or for a rule in another file that a $ref names, that "
                "file's name, '#' and a JSON Pointer into it.",
            },
            "message": {"type": "string"},
            "detail": {
                "type": "string",
                "description": "For a oneOf or anyOf that no alternative matches, why the "
                "closest one (with the fewest errors) does not: empty for other errors. Its "
                "places are JSON Pointers into the data, or for spreadsheets, cells (sheet, "
                "row, column and heading).",
            },
            "value": {"description": "The offending value, shortened."},
            "source": ref("Cell"),
        },
    },
    "Cell": {
        "type": ["object", "null"],
        "description": "For spreadsheets: where the value came from.",
        "properties": {
            "sheet": {"type": "string"},
            "row": {"type": ["integer", "null"]},
            "column": {"type": ["string", "null"]},
            "header": {"type": ["string", "null"]},
        },
    },
    "AdditionalField": {
        "type": "object",
        "required": ["path", "count", "examples"],
        "properties": {
            "path": {
                "type": "string",
                "description": "The field, list indexes as *: the top of a branch the schema "
                "does not describe, not each field below it.",
            },
            "count": {"type": "integer", "minimum": 1},
            "examples": {
                "type": "array",
                "description": "Up to three places it is found, the first met, with its value "
                "there (one past the first 50 such fields, none past 2,000).",
                "items": {
                    "type": "object",
                    "required": ["path", "value"],
                    "properties": {
                        "path": {"type": "string"},
                        "value": {"description": "Shortened."},
                        "source": ref("Cell"),
                    },
                },
            },
        },
    },
    "Report": {
        "type": "object",
        "required": [
            "valid",
            "checked_against_schema",
            "format",
            "profile",
            "schema",
            "error_count",
            "errors",
            "error_groups",
            "additional_fields",
            "stats",
        ],
        "properties": {
            "valid": {
                "type": "boolean",
                "description": "The data breaks no rule of the profile's schema; for a "
                "profile without a schema (checked_against_schema false), it was read.",
            },
            "checked_against_schema": {
                "type": "boolean",
                "description": "False for a profile without a schema: nothing was checked "
                "but that the data could be read.",
            },
            "format": {"enum": ["json", "xlsx", "ods", "csv"]},
            "profile": {"type": "string"},
            "schema": {"type": "object"},
            "error_count": {"type": "integer", "minimum": 0},
            "errors_truncated": {"type": "boolean"},
            "errors": {"type": "array", "items": ref("SchemaError")},
            "error_groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["validator", "path_pattern", "message", "count", "examples"],
                    "properties": {
                        "validator": {"type": "string"},
                        "path_pattern": {"type": "string"},
                        "message": {"type": "string"},
                        "count": {"type": "integer", "minimum": 1},
                        "examples": {"type": "array", "items": ref("SchemaError")},
                    },
                },
            },
            "error_group_count": {
                "type": "integer",
                "minimum": 0,
                "description": "How many kinds of error there are: error_groups lists the "
                "200 largest. At most the first 10,000 kinds met are grouped.",
            },
            "ungrouped_error_count": {
                "type": "integer",
                "minimum": 0,
                "description": "Errors of kinds met after the first 10,000: counted in "
                "error_count, in no group.",
            },
            "additional_fields": {
                "type": "array",
                "items": ref("AdditionalField"),
                "description": "Fields in the data the schema does not describe: the 500 "
                "most common.",
            },
            "additional_field_count": {"type": "integer", "minimum": 0},
            "stats": {"type": "object"},
            "sample": {
                "type": ["object", "null"],
                "description": "In sample mode (null otherwise): the lists at the top level, "
                "with how many items each has and how many were checked. When sampled is "
                "true, the verdict and every count are of the first sample_size items of "
                "each list only.",
                "required": ["sample_size", "lists", "sampled"],
                "properties": {
                    "sample_size": {"type": "integer", "minimum": 1},
                    "sampled": {
                        "type": "boolean",
                        "description": "Some list was longer than the sample: not all of the "
                        "data was checked.",
                    },
                    "lists": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["path", "items", "checked"],
                            "properties": {
                                "path": {"type": "string"},
                                "items": {"type": "integer", "minimum": 0},
                                "checked": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                },
            },
            "conversion_warnings": {
                "type": "array",
                "items": ref("ConversionWarning"),
                "description": "The spreadsheet converter's warnings, with their cells: the "
                "first 500.",
            },
            "conversion_warning_count": {"type": "integer", "minimum": 0},
            "link_warnings": {
                "type": "array",
                "items": ref("LinkWarning"),
                "description": "The links checked that do not work.",
            },
            "links_checked": {
                "type": "integer",
                "minimum": 0,
                "description": "The distinct links checked (0 where the profile names no "
                "fields of links and the schema has no URI fields).",
            },
            "links_unchecked": {
                "type": "integer",
                "minimum": 0,
                "description": "More links found in the data, past the most checked for one "
                "submission: nothing is known of them.",
            },
        },
    },
    "ConversionWarning": {
        "type": "object",
        "description": "What, and where it is as far as is known (null for what is not).",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "sheet": {"type": ["string", "null"]},
            "row": {"type": ["integer", "null"]},
            "column": {"type": ["string", "null"], "description": "A letter: B, AA."},
            "header": {"type": ["string", "null"]},
        },
    },
    "LinkWarning": {
        "type": "object",
        "required": ["url", "error", "places"],
        "properties": {
            "url": {"type": "string"},
            "error": {"type": "string", "description": "Why it does not work."},
            "places": {
                "type": "array",
                "description": "Where the data has it: the first few places.",
                "items": {
                    "type": "object",
                    "required": ["path"],
                    "properties": {
                        "path": {"type": "string", "description": "JSON Pointer into the data."},
                        "source": {
                            "type": ["object", "null"],
                            "description": "For spreadsheets: the cell.",
                        },
                    },
                },
            },
        },
    },
}


def openapi_document(server: str, profiles: list[str]) -> dict[str, Any]:
    """The document, for the site at ``server`` with these profiles configured."""
    schemas = {
        **SCHEMAS,
        "Profile": {
            "enum": profiles,
            "description": "What to check the data against; the site's default when absent.",
        },
    }
    bad_request = error_response(
        "Bad input: no source, two sources, an unknown profile, too large (the limit is "
        "given), or a body that is not a JSON object."
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Assay",
            "version": "1",
            "description": "Submit data, follow its progress, and fetch its validation report.",
        },
        "servers": [{"url": server}],
        "paths": {
            "/api/submissions": {
                "post": {
                    "operationId": "createSubmission",
                    "summary": "Submit a file, a URL or text to be checked",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {"schema": ref("NewUpload")},
                            "application/x-www-form-urlencoded": {"schema": ref("NewSubmission")},
                            JSON: {"schema": ref("NewSubmission")},
                        },
                    },
                    "responses": {
                        "201": response("Created and queued.", "Created", LOCATION),
                        "400": bad_request,
                        "413": error_response("The body is larger than uploads may be."),
                        "415": error_response("The body is not a form, multipart or JSON."),
                        "429": response("Too many submissions; wait.", "Error", RETRY_AFTER),
                    },
                }
            },
            "/api/submissions/{id}": {
                "get": {
                    "operationId": "getSubmission",
                    "summary": "The submission's state, progress and steps",
                    "parameters": [SUBMISSION_ID],
                    "responses": {
                        "200": response("The status.", "Status"),
                        "404": error_response("No submission has this id."),
                        "410": response("The submission has expired.", "Status"),
                    },
                }
            },
            "/api/submissions/{id}/report": {
                "get": {
                    "operationId": "getReport",
                    "summary": "The report document",
                    "parameters": [SUBMISSION_ID],
                    "responses": {
                        "200": response("The report.", "Report"),
                        "202": response("Still being checked: the status.", "Status"),
                        "404": error_response(
                            "No submission has this id (code not_found), or it has no "
                            "report (code no_report): a picture or PDF is previewed, not "
                            "checked, and its results page shows the preview."
                        ),
                        "410": response("The submission has expired.", "Status"),
                        "422": error_response(
                            "The data could not be checked (malformed, unreadable...): "
                            "the failures say why."
                        ),
                    },
                }
            },
            "/api/submissions/{id}/retry": {
                "post": {
                    "operationId": "retrySubmission",
                    "summary": "Try a failed submission again, from the step that failed",
                    "description": "What the results page's “Try again now” does. Worth it "
                    "for a failure that is not permanent (see the report's 422).",
                    "parameters": [SUBMISSION_ID],
                    "responses": {
                        "202": response("Sent to be checked again: the status.", "Status"),
                        "404": error_response("No submission has this id."),
                        "409": error_response(
                            "It has not failed (code not_failed): there is nothing to try again."
                        ),
                        "410": error_response("The submission has expired."),
                    },
                }
            },
            "/api/submissions/{id}/tasks/{task}": {
                "post": {
                    "operationId": "startTask",
                    "summary": "Start a deferred step, such as the spreadsheet downloads",
                    "parameters": [
                        SUBMISSION_ID,
                        {
                            "name": "task",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "example": "json_to_spreadsheet",
                        },
                    ],
                    "responses": {
                        "200": response("Already done: its files are ready.", "DeferredStatus"),
                        "202": response("Asked for; follow the status.", "DeferredStatus"),
                        "404": error_response(
                            "No submission has this id, or no step of that name can be asked for."
                        ),
                        "409": error_response("That step cannot be started for it now, and why."),
                        "410": error_response("The submission has expired."),
                        "503": response(
                            "The job queue cannot be reached just now: ask again later.",
                            "Error",
                            RETRY_AFTER,
                        ),
                    },
                }
            },
        },
        "components": {"schemas": schemas},
    }
