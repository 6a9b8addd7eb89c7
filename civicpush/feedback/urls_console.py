"""Console URLs of the feedback mailbox and FAQ (included by console.urls, namespace "console")."""

from django.urls import path

from . import console_views

urlpatterns = [
    path("feedback/", console_views.feedback_list, name="feedback"),
    path("feedback/<int:feedback_id>/", console_views.feedback_detail, name="feedback_detail"),
    path("feedback/stats/", console_views.feedback_stats, name="feedback_stats"),
    path("feedback/stats.<str:fmt>", console_views.feedback_stats, name="feedback_stats_export"),
    path("feedback/faq/", console_views.faq_list, name="faq"),
]
