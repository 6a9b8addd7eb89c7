"""Console URLs of events (in the "console" namespace; included from console/urls.py)."""

from django.urls import path

from . import console_views

urlpatterns = [
    path("events/", console_views.event_list, name="event_list"),
    path("pushes/<int:push_id>/event/", console_views.event_form, name="event_form"),
    path("events/<int:event_id>/", console_views.event_detail, name="event_detail"),
    path("events/<int:event_id>/close/", console_views.event_close, name="event_close"),
    path("events/<int:event_id>/scanner/", console_views.scanner, name="event_scanner"),
    path("events/<int:event_id>/scan/", console_views.scan, name="event_scan"),
    path("events/<int:event_id>/scan/batch/", console_views.scan_batch, name="event_scan_batch"),
    path("events/<int:event_id>/tickets.json", console_views.offline_tickets, name="event_tickets"),
    path("events/<int:event_id>/attendance.csv", console_views.attendance_csv, name="event_attendance_csv"),
    path("events/<int:event_id>/attendance.xlsx", console_views.attendance_xlsx, name="event_attendance_xlsx"),
]
