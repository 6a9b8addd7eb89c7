from django.urls import path

from . import citizen_views

app_name = "events"
urlpatterns = [
    path("", citizen_views.my_events, name="mine"),
    path("check-in/", citizen_views.self_check_in, name="self_check_in"),
    path("<int:event_id>/", citizen_views.event_page, name="event"),
    path("<int:event_id>/register/", citizen_views.register, name="register"),
    path("<int:event_id>/cancel/", citizen_views.cancel, name="cancel"),
    path("<int:event_id>/ticket.png", citizen_views.ticket_png, name="ticket_png"),
    path("<int:event_id>/event.ics", citizen_views.calendar_file, name="ics"),
]
