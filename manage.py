#!/usr/bin/env python
"""Django's command-line utility for Assay."""

import argparse
import json
import os
import sys

# What `manage.py validate` exits with when it cannot check the data (see webapp/cli.py).
UNPROCESSABLE = 2


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as problem:
        if sys.argv[1:2] != ["validate"]:
            raise
        # A data publisher's CI must not read a broken configuration as invalid data.
        sys.exit(configuration_failed(str(problem), sys.argv[2:]))


def configuration_failed(message: str, arguments: list[str]) -> int:
    """Say that the configuration is wrong, as `validate` says it could not check the data."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("source", nargs="?", default="")
    parser.add_argument("--format", default="text")
    known, _ = parser.parse_known_args(arguments)
    # CI logs are read by many: a URL's password is left out, as the command does.
    from process.fetching import without_password

    source = without_password(known.source)
    hint = "Check the settings named: the environment variables, or the ASSAY_CONFIG file."
    if known.format == "json":
        error = {"task": "configuration", "code": "configuration", "message": message}
        document = {"source": source, "valid": None, "errors": [{**error, "hint": hint}]}
        print(json.dumps(document, indent=1, ensure_ascii=False))  # as the command prints it
    else:
        print(f"{source}: could not be checked.\n  configuration: {message}")
        print(f"  What to do: {hint}")
    return UNPROCESSABLE


if __name__ == "__main__":
    main()
