"""Helpers for the studio tests: logged-in clients, settled sales made through the real
payment services (an invoice, a verified transfer, solidified)."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from creators.models import Creator
from payments import crediting
from payments.models import Invoice
from payments.money import Amount, Token
from purchases import services as purchases
from swarm.models import Content
from tests.fixtures.personas import make_user
from tests.payments.factories import paid_content, paying, proven, with_wallet


def other_creator() -> Creator:
    user = make_user("rival")
    return Creator.objects.create(
        user=user,
        handle="rival",
        display_name="Rival",
        payout_address="TNuoKL1ni8aoshfFL1ASca1Gou9RXwAzfn",
    )


def image(
    fmt: str = "PNG", size: tuple[int, int] = (64, 64), name: str = "cover.png"
) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def settled_sale(buyer: User, creator: Creator, title: str, price: str, seq: int = 0) -> Invoice:
    """``buyer`` bought a new paid content of ``creator`` at ``price`` BTT, settled on chain."""
    with_wallet(creator)
    content = paid_content(creator, title, Amount.parse(price, Token.BTT))
    invoice, _ = purchases.create_purchase_invoice(buyer, content)
    crediting.record_transfer(proven(*paying(invoice, seq=seq)), solidified=True)
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    return invoice


def uploading_content(creator: Creator, title: str = "Draft", access: str = "paid") -> Content:
    return Content.objects.create(creator=creator, title=title, access=access)
