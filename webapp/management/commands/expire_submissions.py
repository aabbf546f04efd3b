from django.core.management.base import BaseCommand

from webapp.expiry import expire_due, forget_old_link_checks


class Command(BaseCommand):
    help = (
        "Delete the files of submissions past their expiry date, keeping their records, "
        "and link checks as old."
    )

    def handle(self, *args, **options) -> None:
        count = expire_due()
        links = forget_old_link_checks()
        self.stdout.write(f"Expired {count} submission(s); deleted {links} old link check file(s).")
