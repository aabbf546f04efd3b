from django.contrib import admin
from django.urls import path

from webapp import views

urlpatterns = [
    path("", views.home, name="home"),
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
    path("api/submissions/<uuid:submission_id>", views.api_submission, name="api-submission"),
    path(
        "api/submissions/<uuid:submission_id>/tasks/<str:task_name>",
        views.api_start_task,
        name="api-start-task",
    ),
    path("admin/", admin.site.urls),
]
