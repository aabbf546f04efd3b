"""python manage.py validate SOURCE: check a file or URL and exit 0 valid, 1 invalid, 2 failed."""

import json
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from process.fetching import without_password
from tasks import profile_schema
from webapp.cli import (
    CONTROLS_ESCAPED_IN_JSON,
    UNPROCESSABLE,
    UnusableOption,
    choose_profile,
    json_failure,
    json_unusable,
    text_summary,
    validate_source,
)
from webapp.profiles import get_profiles


class Command(BaseCommand):
    help = (
        "Check a data file or URL; exit 0 when valid, 1 when invalid, 2 when it cannot be "
        "checked (data that cannot be read, a faulty schema, option or setting)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", help="a file path or an http(s) URL")
        parser.add_argument(
            "--schema", help="a JSON Schema file or URL to use instead of the profile's"
        )
        names = list(get_profiles())
        known = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
        parser.add_argument(
            "--profile",
            help=f"the profile to check against: {known} "
            f"(default: {settings.ASSAY_DEFAULT_PROFILE})",
        )
        parser.add_argument("--sample", action="store_true", help="check only the first items")
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="text: a summary (the default); json: the report document",
        )

    def handle(self, *args, source, schema, profile, sample, format, **options) -> None:
        shown = without_password(source)  # CI logs are read by many
        # A schema given by URL is fetched afresh, once: a check run now is of the schema
        # now, and every step of it of the same one.
        profile_schema.FETCHED_AFTER = time.time()
        try:
            chosen = choose_profile(profile, schema, settings.ASSAY_DEFAULT_PROFILE)
        except UnusableOption as problem:
            if format == "json":
                self.stdout.write(json.dumps(json_unusable(problem, shown), indent=1))
            raise CommandError(problem.message, returncode=UNPROCESSABLE) from None
        outcome = validate_source(source, chosen, sample)
        if format == "json":
            document = outcome.report or json_failure(outcome, shown)
            # Control characters escaped: JSON leaves C1 controls and line separators as
            # they are, which a terminal reads (the text summary escapes them too).
            text = json.dumps(document, indent=1, ensure_ascii=False)
            self.stdout.write(text.translate(CONTROLS_ESCAPED_IN_JSON))
        else:
            self.stdout.write(text_summary(outcome, shown))
        sys.exit(outcome.code)
