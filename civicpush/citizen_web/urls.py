from django.urls import include, path

from . import inbox_views, notification_views, views

app_name = "citizen_web"
urlpatterns = [
    path("", views.home, name="home"),
    path("m/<int:push_id>/", inbox_views.message, name="message"),
    path("m/<int:push_id>/go/", inbox_views.message_go, name="message_go"),
    path("m/<int:push_id>/opened/", notification_views.push_opened, name="push_opened"),
    path("media/<path:path>", inbox_views.push_image, name="media"),
    path("signin/", views.signin, name="signin"),
    path("signin/code/", views.signin_code, name="signin_code"),
    path("signin/code/resend/", views.signin_resend, name="signin_resend"),
    path("signup/consent/", views.signup_consent, name="signup_consent"),
    path("signup/profile/", views.signup_profile, name="signup_profile"),
    path("consent/", views.consent, name="consent"),
    path("signout/", views.signout, name="signout"),
    path("me/", views.me, name="me"),
    path("me/edit/", views.me_edit, name="me_edit"),
    path("me/villages.json", views.villages_json, name="villages_json"),
    path("me/export.json", views.export_json, name="export"),
    path("me/delete/", views.delete_account, name="delete"),
    path("me/notifications/", notification_views.notifications, name="notifications"),
    path(
        "me/notifications/devices/<int:device_id>/remove/",
        notification_views.device_remove,
        name="device_remove",
    ),
    path("push/key.json", notification_views.push_key, name="push_key"),
    path("push/subscribe/", notification_views.webpush_subscribe, name="webpush_subscribe"),
    path("push/seen/", notification_views.webpush_seen, name="webpush_seen"),
    path("push/unsubscribe/", notification_views.webpush_unsubscribe, name="webpush_unsubscribe"),
    path("goodbye/", views.goodbye, name="goodbye"),
    path("privacy/", views.privacy, name="privacy"),
    path("dev/otp/", views.dev_otp, name="dev_otp"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("offline/", views.offline, name="offline"),
    path("", include("civicpush.citizen_web.urls_wallet")),
    path("", include("civicpush.surveys.citizen.urls")),
    path("", include("civicpush.stores.urls_citizen")),
    path("", include("civicpush.cases.urls_citizen")),
]
