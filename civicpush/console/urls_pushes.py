"""Console URLs for pushes (names are in the "console" namespace)."""

from django.urls import URLPattern, path

from .views import approvals, county_settings, pushes, schedule, stats

urlpatterns: list[URLPattern] = [
    path("pushes/", pushes.push_list, name="push_list"),
    path("pushes/new/", pushes.push_new, name="push_new"),
    path("pushes/new/autosave/", pushes.push_new_autosave, name="push_new_autosave"),
    path("pushes/estimate/", pushes.push_estimate, name="push_estimate"),
    path("pushes/<int:push_id>/", pushes.push_detail, name="push_detail"),
    path("pushes/<int:push_id>/edit/", pushes.push_edit, name="push_edit"),
    path("pushes/<int:push_id>/autosave/", pushes.push_autosave, name="push_autosave"),
    path("pushes/<int:push_id>/images/", pushes.push_add_image, name="push_add_image"),
    path("pushes/<int:push_id>/images/<int:image_id>/remove/", pushes.push_remove_image, name="push_remove_image"),
    path("pushes/<int:push_id>/images/<int:image_id>/<str:variant>/", pushes.push_image, name="push_image"),
    path("pushes/<int:push_id>/submit/", approvals.push_submit, name="push_submit"),
    path("pushes/<int:push_id>/decide/", approvals.push_decide, name="push_decide"),
    path("pushes/<int:push_id>/review-form/", approvals.push_review_form, name="push_review_form"),
    path("pushes/<int:push_id>/review-form.pdf", approvals.push_review_form_pdf, name="push_review_form_pdf"),
    path("pushes/<int:push_id>/schedule/", schedule.push_schedule, name="push_schedule"),
    path("pushes/<int:push_id>/cancel/", schedule.push_cancel, name="push_cancel"),
    path("pushes/<int:push_id>/stats/", stats.push_stats_page, name="push_stats"),
    path("approvals/", approvals.approval_queue, name="approval_queue"),
    path("calendar/", schedule.push_calendar, name="push_calendar"),
    path("stats/", stats.dashboard, name="dashboard"),
    path("stats/export.csv", stats.stats_export_csv, name="stats_export_csv"),
    path("stats/export.xlsx", stats.stats_export_xlsx, name="stats_export_xlsx"),
    path("county/slots/", county_settings.county_slots, name="county_slots"),
    path("county/slots/<int:slot_id>/<str:action>/", county_settings.county_slot_action, name="county_slot_action"),
    path("county/chains/", county_settings.county_chains, name="county_chains"),
    path("county/chains/<int:chain_id>/delete/", county_settings.county_chain_delete, name="county_chain_delete"),
    path("county/policy/", county_settings.county_policy, name="county_policy"),
]
