"""Citizen parking pages (phone-first): /parking/…"""

from django.urls import path

from . import citizen

app_name = "parking_web"
urlpatterns = [
    path("", citizen.overview, name="home"),
    path("plates/add/", citizen.plate_add, name="plate_add"),
    path("plates/<int:binding_id>/verify/", citizen.plate_verify, name="plate_verify"),
    path("plates/<int:binding_id>/remove/", citizen.plate_remove, name="plate_remove"),
    path("plates/<int:binding_id>/refresh/", citizen.plate_refresh, name="plate_refresh"),
    path("bills/<int:bill_id>/", citizen.bill_detail, name="bill"),
    path("bills/<int:bill_id>/pay/", citizen.bill_pay, name="bill_pay"),
    path("auto/", citizen.auto_deduct, name="auto"),
    path("history/", citizen.history, name="history"),
]
