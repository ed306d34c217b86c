from django.urls import path

from payments import views

urlpatterns = [
    path("invoices/<uuid:invoice_id>/", views.invoice_page, name="invoice"),
    path("invoices/<uuid:invoice_id>/accept-late/", views.accept_late, name="invoice-accept-late"),
]
