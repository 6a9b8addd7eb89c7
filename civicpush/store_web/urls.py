app_name = "store_web"
urlpatterns: list = []
