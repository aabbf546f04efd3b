from django.core.management.base import BaseCommand

from webapp.expiry import expire_due


class Command(BaseCommand):
    help = "Delete the files of submissions past their expiry date; keep their records."

    def handle(self, *args, **options) -> None:
        count = expire_due()
        self.stdout.write(f"Expired {count} submission(s).")
