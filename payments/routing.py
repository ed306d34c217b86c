from django.urls import path

from payments.consumers import InvoiceConsumer

websocket_urlpatterns = [
    path("ws/invoice/<uuid:invoice_id>/", InvoiceConsumer.as_asgi()),
]
