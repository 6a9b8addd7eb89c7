"""Console URLs of the adoption roster and awards (included by console.urls, namespace "console")."""

from django.urls import path

from . import console_views, dashboard_views

urlpatterns = [
    path("roster/", console_views.roster_overview, name="roster"),
    path("roster/units/<int:unit_id>/", console_views.unit_roster, name="unit_roster"),
    path("roster/units/<int:unit_id>/export.<str:fmt>", console_views.roster_export, name="roster_export"),
    path("awards/rules/", console_views.award_rules, name="award_rules"),
    path("awards/periods/", console_views.award_periods, name="award_periods"),
    path("awards/periods/<int:period_id>/", console_views.award_period, name="award_period"),
    path("awards/periods/<int:period_id>/evaluate/", console_views.award_period_evaluate, name="award_period_evaluate"),
    path(
        "awards/periods/<int:period_id>/export.<str:fmt>", console_views.award_period_export, name="award_period_export"
    ),
    path("county/dashboard/", dashboard_views.county_dashboard, name="county_dashboard"),
    path("county/dashboard.xlsx", dashboard_views.county_dashboard_xlsx, name="county_dashboard_xlsx"),
]
