from django.urls import path

app_name = "citizen_web"
urlpatterns: list = []
