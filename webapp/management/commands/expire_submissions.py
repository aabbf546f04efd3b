from django.core.management.base import BaseCommand, CommandError

from webapp.expiry import expire_due, forget_old_link_checks


class Command(BaseCommand):
    help = (
        "Delete the files of submissions past their expiry date, keeping their records, "
        "and link checks as old."
    )

    def handle(self, *args, **options) -> None:
        count = expire_due()
        try:
            links = forget_old_link_checks()
        except OSError as exc:  # a file it may not delete, say: the submissions went all the same
            raise CommandError(
                f"Expired {count} submission(s), but old link checks could not be deleted: {exc}"
            ) from exc
        self.stdout.write(f"Expired {count} submission(s); deleted {links} old link check file(s).")
