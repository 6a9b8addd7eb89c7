from django.urls import include, path

from . import inbox_views, views

app_name = "citizen_web"
urlpatterns = [
    path("", views.home, name="home"),
    path("m/<int:push_id>/", inbox_views.message, name="message"),
    path("m/<int:push_id>/go/", inbox_views.message_go, name="message_go"),
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
    path("goodbye/", views.goodbye, name="goodbye"),
    path("privacy/", views.privacy, name="privacy"),
    path("dev/otp/", views.dev_otp, name="dev_otp"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("offline/", views.offline, name="offline"),
    path("", include("civicpush.citizen_web.urls_wallet")),
]
