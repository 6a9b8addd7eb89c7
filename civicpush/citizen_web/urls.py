app_name = "citizen_web"
urlpatterns: list = []
