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
    hint = "Check the settings named: the environment variables, or the ASSAY_CONFIG file."
    if known.format == "json":
        error = {"task": "configuration", "code": "configuration", "message": message}
        print(
            json.dumps({"source": known.source, "valid": None, "errors": [{**error, "hint": hint}]})
        )
    else:
        print(f"{known.source}: could not be checked.\n  configuration: {message}")
        print(f"  What to do: {hint}")
    return UNPROCESSABLE


if __name__ == "__main__":
    main()
