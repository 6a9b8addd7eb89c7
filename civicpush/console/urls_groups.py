"""Console URLs for groups (names are in the "console" namespace)."""


urlpatterns: list = []
