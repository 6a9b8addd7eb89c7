"""Console URLs for coins: budgets (金幣預算), extensions, manual grants, exports."""

from django.urls import path

from .views import budgets

urlpatterns = [
    path("budgets/", budgets.budget_list, name="budgets"),
    path("budgets/request/", budgets.budget_request, name="budget_request"),
    path("budgets/export.csv", budgets.budget_export_csv, name="budget_export_csv"),
    path("budgets/export.xlsx", budgets.budget_export_xlsx, name="budget_export_xlsx"),
    path("budgets/<int:budget_id>/reserve/", budgets.budget_reserve, name="budget_reserve"),
    path("budgets/<int:budget_id>/release/", budgets.budget_release, name="budget_release"),
    path("budgets/<int:budget_id>/extension/", budgets.budget_extension, name="budget_extension"),
    path(
        "budgets/extensions/<int:extension_id>/<str:decision>/",
        budgets.extension_decide,
        name="budget_extension_decide",
    ),
    path("budgets/grants/propose/", budgets.grant_propose, name="grant_propose"),
    path("budgets/grants/<int:grant_id>/<str:decision>/", budgets.grant_decide, name="grant_decide"),
]
