from django.urls import path

from purchases import views

urlpatterns = [
    path("content/<int:content_id>/buy/", views.purchase, name="purchase"),
]
