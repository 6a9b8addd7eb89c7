from django.urls import include, path

from .views import api_keys, audit, auth, home, units

app_name = "console"
urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("units/", units.unit_list, name="units"),
    path("units/<int:unit_id>/", units.unit_detail, name="unit_detail"),
    path("units/<int:unit_id>/staff/add/", units.add_staff, name="add_staff"),
    path("units/<int:unit_id>/staff/<int:assignment_id>/remove/", units.remove_role, name="remove_role"),
    path("units/<int:unit_id>/staff/users/<int:user_id>/unlock/", units.unlock_staff, name="unlock_staff"),
    path("units/<int:unit_id>/api-keys/", api_keys.api_keys, name="api_keys"),
    path("units/<int:unit_id>/api-keys/<int:key_id>/revoke/", api_keys.revoke_api_key, name="revoke_api_key"),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/export.csv", audit.audit_export_csv, name="audit_export_csv"),
    path("audit/export.xlsx", audit.audit_export_xlsx, name="audit_export_xlsx"),
    path("audit/<int:entry_id>/", audit.audit_detail, name="audit_detail"),
    # Pushes (compose, sign-off, schedule, statistics) and groups live in their own URL modules.
    path("", include("civicpush.console.urls_pushes")),
    path("", include("civicpush.console.urls_groups")),
    path("", include("civicpush.console.urls_coins")),
    path("", include("civicpush.surveys.console.urls")),
    path("", include("civicpush.stores.urls_console")),
    path("", include("civicpush.cases.urls_console")),
    path("", include("civicpush.adoption.urls_console")),
    path("", include("civicpush.feedback.urls_console")),
    path("", include("civicpush.parking.web.console_urls")),
    path("", include("civicpush.events.console_urls")),
]
