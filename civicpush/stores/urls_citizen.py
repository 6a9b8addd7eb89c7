"""Citizen store pages, included into citizen_web's URLs (namespace citizen_web)."""

from django.urls import path

from . import citizen_views

urlpatterns = [
    path("stores/", citizen_views.store_list, name="stores"),
    path("stores/<int:store_id>/", citizen_views.store_detail, name="store_detail"),
    path("stores/<int:store_id>/photo", citizen_views.store_photo, name="store_photo"),
    path("stores/offers/<int:offer_id>/redeem/", citizen_views.redeem, name="store_redeem"),
    path("wallet/vouchers/", citizen_views.vouchers, name="vouchers"),
    path("pay/s/<str:token>/", citizen_views.pay_store, name="store_pay"),
    path("pay/requests/<int:request_id>/", citizen_views.pay_status, name="store_pay_status"),
]
