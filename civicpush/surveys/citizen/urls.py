"""Citizen questionnaire URLs, included in the citizen_web namespace (under a push's message page)."""

from django.urls import path

from . import views

urlpatterns = [
    path("m/<int:push_id>/survey/", views.answer, name="survey_answer"),
    path("m/<int:push_id>/survey/result/", views.result, name="survey_result"),
]
