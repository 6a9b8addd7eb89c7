"""Console parking pages (county operator, accounting): bills, payments, reconciliation flags, exports."""

from django.urls import path

from . import console

urlpatterns = [
    path("parking/", console.parking_home, name="parking"),
    path("parking/bills/", console.bill_list, name="parking_bills"),
    path("parking/payments/", console.payment_list, name="parking_payments"),
    path("parking/flags/", console.flag_list, name="parking_flags"),
    path("parking/flags/<int:flag_id>/resolve/", console.flag_resolve, name="parking_flag_resolve"),
    path("parking/flags/<int:flag_id>/refund/", console.flag_refund, name="parking_flag_refund"),
    path("parking/plates/", console.plate_list, name="parking_plates"),
    path("parking/plates/<int:binding_id>/release/", console.plate_release, name="parking_plate_release"),
    path("parking/<str:table>/export.<str:fmt>", console.export, name="parking_export"),
]
