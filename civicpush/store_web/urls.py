from django.urls import path

from . import views

app_name = "store_web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("charge/", views.charge, name="charge"),
    path("payments/", views.payments, name="payments"),
    path("payments/<int:payment_id>/", views.payment_detail, name="payment"),
    path("payments/<int:payment_id>/refund/", views.payment_refund, name="refund"),
    path("requests/", views.requests_page, name="requests"),
    path("requests/list/", views.requests_fragment, name="requests_fragment"),
    path("requests/<int:request_id>/<str:decision>/", views.request_decide, name="request_decide"),
    path("vouchers/", views.voucher, name="voucher"),
    path("code/", views.store_code, name="code"),
    path("statements/", views.statements, name="statements"),
    path("statements/<int:statement_id>/", views.statement_detail, name="statement"),
    path("statements/<int:statement_id>/<str:fmt>", views.statement_download, name="statement_download"),
]
