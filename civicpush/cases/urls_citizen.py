"""Citizen URLs of case progress (included by citizen_web.urls)."""

from django.urls import path

from . import citizen_views

urlpatterns = [
    path("cases/", citizen_views.my_cases, name="my_cases"),
    path("cases/<int:case_id>/", citizen_views.case_timeline, name="case"),
]
