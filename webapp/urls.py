from django.contrib import admin
from django.urls import path

from webapp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("s/<uuid:submission_id>/", views.results, name="results"),
    path("s/<uuid:submission_id>/original", views.original, name="original"),
    path("s/<uuid:submission_id>/retry", views.retry, name="retry"),
    path("api/submissions/<uuid:submission_id>", views.api_submission, name="api-submission"),
    path("admin/", admin.site.urls),
]
