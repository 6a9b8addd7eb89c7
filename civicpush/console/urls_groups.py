"""Console URLs for groups (names are in the "console" namespace)."""

from django.urls import URLPattern, path

from .views import groups

urlpatterns: list[URLPattern] = [
    path("groups/", groups.group_list, name="group_list"),
    path("groups/new/", groups.group_create, name="group_create"),
    path("groups/new/estimate/", groups.group_estimate, name="group_estimate"),
    path("groups/new/villages/", groups.group_villages, name="group_villages"),
    path("groups/member-template.csv", groups.group_import_template, name="group_import_template"),
    path("groups/<int:group_id>/", groups.group_detail, name="group_detail"),
    path("groups/<int:group_id>/members/add/", groups.group_add_member, name="group_add_member"),
    path("groups/<int:group_id>/members/remove/", groups.group_remove_member, name="group_remove_member"),
    path("groups/<int:group_id>/members/import/", groups.group_import, name="group_import"),
    path("groups/<int:group_id>/share/", groups.group_share, name="group_share"),
    path("groups/<int:group_id>/new-version/", groups.group_new_version, name="group_new_version"),
    path("groups/<int:group_id>/retire/", groups.group_retire, name="group_retire"),
]
