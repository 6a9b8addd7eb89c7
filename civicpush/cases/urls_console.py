"""Console URLs of case progress (included by console.urls, namespace "console")."""

from django.urls import path

from . import console_views

urlpatterns = [
    path("cases/", console_views.case_list, name="cases"),
    path("cases/<int:case_id>/", console_views.case_detail, name="case_detail"),
]
