from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("console/", include("civicpush.console.urls")),
    path("store/", include("civicpush.store_web.urls")),
    path("api/v1/", include("civicpush.api.urls")),
    path("events/", include("civicpush.events.citizen_urls")),
    path("parking/", include("civicpush.parking.web.citizen_urls")),
    path("", include("civicpush.citizen_web.urls")),
]
