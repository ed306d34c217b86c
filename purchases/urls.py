from django.urls import path

from purchases import views

urlpatterns = [
    path("content/<int:content_id>/buy/", views.purchase, name="purchase"),
    path("content/<int:content_id>/rent/", views.rent, name="rent"),
    path("library/<int:content_id>/refund/", views.refund_request, name="refund-request"),
]
