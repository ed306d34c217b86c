"""``{% payment_instruction invoice %}``: the block that tells a fan what to send where (address,
exact amount, QR code, wallet links, copy buttons), the same on every page that asks for a
payment: the invoice page, a tip's and a pledge's payment pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from payments.instructions import payment_instruction as build_instruction
from payments.models import Invoice

register = template.Library()


@register.inclusion_tag("payments/_pay_instructions.html", takes_context=True)
def payment_instruction(context: template.Context, invoice: Invoice) -> dict[str, Any]:
    request = context.get("request")
    path = reverse("invoice", args=[invoice.pk])
    # Absolute: TronLink's deep link opens it in the wallet's own browser.
    page_url = request.build_absolute_uri(path) if request is not None else path
    return {"pay": build_instruction(invoice, page_url)}
