from django.urls import path

app_name = "store_web"
urlpatterns: list = []
