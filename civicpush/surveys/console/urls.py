"""Console questionnaire URLs, included in the console namespace (under a push)."""

from django.urls import path

from . import views

urlpatterns = [
    path("pushes/<int:push_id>/survey/", views.builder, name="survey_builder"),
    path("pushes/<int:push_id>/survey/questions/", views.question_add, name="survey_question_add"),
    path("pushes/<int:push_id>/survey/questions/<int:question_id>/", views.question_edit, name="survey_question_edit"),
    path(
        "pushes/<int:push_id>/survey/questions/<int:question_id>/<str:action>/",
        views.question_action,
        name="survey_question_action",
    ),
    path("pushes/<int:push_id>/survey/close/", views.survey_close, name="survey_close"),
    path("pushes/<int:push_id>/survey/run-again/", views.survey_run_again, name="survey_run_again"),
    path("pushes/<int:push_id>/survey/results/", views.results, name="survey_results"),
    path("pushes/<int:push_id>/survey/results.<str:fmt>", views.results_export, name="survey_results_export"),
]
