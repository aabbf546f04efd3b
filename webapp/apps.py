from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_delete, post_migrate

from process.errors import PipelineError
from process.profiles import ProfileError


class WebappConfig(AppConfig):
    name = "webapp"
    verbose_name = "Assay"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webapp.pipeline import get_pipeline
        from webapp.profiles import get_profiles
        from webapp.schedules import install_schedules

        # Fail at start-up, not on the first upload.
        try:
            pipeline = get_pipeline()
        except PipelineError as exc:
            raise ImproperlyConfigured(f"ASSAY_PIPELINE: {exc}") from exc
        names = {task.name for task in pipeline.tasks}
        if "report" not in names:  # what the results page, the API and the CLI give
            raise ImproperlyConfigured(
                "ASSAY_PIPELINE: the pipeline must include tasks.report.Report, which makes "
                "the report the results page, the API and the command line give."
            )
        try:
            get_profiles()
        except ProfileError as exc:
            raise ImproperlyConfigured(
                f"{exc} (profiles are set as [profiles.NAME] tables in the ASSAY_CONFIG file)"
            ) from exc
        from webapp.expiry import forget_files
        from webapp.models import Submission

        post_migrate.connect(install_schedules, sender=self)
        # Deleted in the admin (or anywhere): its upload and results go with the record.
        post_delete.connect(forget_files, sender=Submission)
