"""Citizen URLs of the feedback mailbox and FAQ (included by citizen_web.urls)."""

from django.urls import path

from . import citizen_views

urlpatterns = [
    path("feedback/", citizen_views.feedback_home, name="feedback"),
    path("feedback/<int:feedback_id>/", citizen_views.feedback_detail, name="feedback_detail"),
    path("feedback/<int:feedback_id>/act/", citizen_views.feedback_act, name="feedback_act"),
    path("faq/", citizen_views.faq, name="faq"),
]
