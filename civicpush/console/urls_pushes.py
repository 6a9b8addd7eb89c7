"""Console URLs for pushes (names are in the "console" namespace)."""


urlpatterns: list = []
