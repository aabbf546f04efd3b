from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_migrate

from process.errors import PipelineError


class WebappConfig(AppConfig):
    name = "webapp"
    verbose_name = "Assay"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webapp.pipeline import get_pipeline
        from webapp.schedules import install_schedules

        try:
            get_pipeline()  # fail at start-up, not on the first upload
        except PipelineError as exc:
            raise ImproperlyConfigured(f"ASSAY_PIPELINE: {exc}") from exc
        post_migrate.connect(install_schedules, sender=self)
