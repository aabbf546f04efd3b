from django.contrib import admin
from django.urls import path, re_path

from webapp import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("s/<uuid:submission_id>/", views.results, name="results"),
    path("s/<uuid:submission_id>/original", views.original, name="original"),
    path("s/<uuid:submission_id>/retry", views.retry, name="retry"),
    path("s/<uuid:submission_id>/errors", views.all_errors, name="errors"),
    path("s/<uuid:submission_id>/tasks/<str:task_name>", views.start_task, name="start-task"),
    path(
        "s/<uuid:submission_id>/files/<str:task_name>/<str:filename>",
        views.download,
        name="download",
    ),
    path("examples/<str:profile_name>/<int:index>", views.try_example, name="try-example"),
    path("api/openapi.json", api.openapi, name="api-openapi"),
    path("api/submissions", api.submissions, name="api-submissions"),
    path("api/submissions/<uuid:submission_id>", api.submission_status, name="api-submission"),
    path("api/submissions/<uuid:submission_id>/report", api.report, name="api-report"),
    path("api/submissions/<uuid:submission_id>/retry", api.retry, name="api-retry"),
    path(
        "api/submissions/<uuid:submission_id>/tasks/<str:task_name>",
        api.start_task,
        name="api-start-task",
    ),
    # Anything else under api/ (an id that is not a UUID, say) is a 404 in JSON, not HTML.
    re_path(r"^api/", api.unknown),
    path("admin/", admin.site.urls),
]
