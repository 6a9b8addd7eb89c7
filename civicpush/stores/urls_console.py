"""Console URLs for stores and settlement (included into the console's URLs, namespace console)."""

from django.urls import path

from . import console_views as views

urlpatterns = [
    path("stores/", views.store_list, name="stores"),
    path("stores/new/", views.store_create, name="store_create"),
    path("stores/<int:store_id>/", views.store_detail, name="store_detail"),
    path("stores/<int:store_id>/staff/", views.staff_add, name="store_staff_add"),
    path(
        "stores/<int:store_id>/staff/<int:membership_id>/<str:action>/", views.staff_action, name="store_staff_action"
    ),
    path("stores/<int:store_id>/offers/", views.offer_save, name="store_offer_save"),
    path("stores/settlement/", views.settlement_page, name="store_settlement"),
    path("stores/settlement/action/", views.settlement_action, name="store_settlement_action"),
    path("stores/settlement/summary.<str:fmt>", views.settlement_download, name="store_settlement_download"),
    path("stores/statements/<int:statement_id>.<str:fmt>", views.statement_download, name="store_statement_download"),
]
