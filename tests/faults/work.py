"""The real work the fault tests interrupt, done as a creator, a fan and their wallets do it:
through the running layout's HTTP API (tus uploads, publishing, invoices, webhooks, a password
reset) and its TRON devnet (with unmodified tronpy)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import libtorrent as lt
from tronpy import Tron
from tronpy.keys import PrivateKey
from tronpy.providers import HTTPProvider

from accounts.models import User
from accounts.services import issue_token
from creators.models import Creator
from ledger.models import Grant
from payments.models import Invoice, InvoiceEvent, Payment, WebhookDelivery
from swarm.models import Content
from tests.fixtures.devnet import BTT_TRC20, TRX, new_address
from tests.fixtures.layout import Layout, Paused
from tests.fixtures.personas import make_user
from tests.fixtures.processes import wait_for
from tests.fixtures.webhooks import Receiver

MiB = 1024 * 1024
# As the studio's upload page sends them (static/js/upload.js): a PATCH per 16 MiB.
TUS_CHUNK = 16 * MiB
TUS = {"Tus-Resumable": "1.0.0"}
BTT = 10**18
FEE_LIMIT = 30_000_000


# --- people --------------------------------------------------------------------------------


def new_creator(handle: str) -> Creator:
    """A creator with a wallet address of their own."""
    return Creator.objects.create(
        user=make_user(handle), handle=handle, display_name=handle, payout_address=new_address()
    )


def api(layout: Layout, user: User) -> httpx.Client:
    """The layout's API as ``user`` (a personal API token)."""
    token = issue_token(user, "faults").secret
    return httpx.Client(
        base_url=layout.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


# --- uploading and publishing --------------------------------------------------------------


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        for start in range(0, size, 16 * MiB):
            out.write(os.urandom(min(16 * MiB, size - start)))
    return path


def new_content(client: httpx.Client, title: str, access: str = "free") -> int:
    response = client.post("/api/v1/contents", json={"title": title, "access": access})
    assert response.status_code == 201, response.text
    content_id: int = response.json()["id"]
    return content_id


class TusUpload:
    """One file sent with tus 1.0 as a browser sends it: PATCHes of ``TUS_CHUNK`` bytes, and
    after a failure, a HEAD for the offset to resume from."""

    def __init__(self, client: httpx.Client, content_id: int, path: Path) -> None:
        self.client = client
        self.path = path
        self.length = path.stat().st_size
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in (("filename", path.name), ("content_id", str(content_id)))
        )
        created = client.post(
            "/api/v1/uploads",
            headers={**TUS, "Upload-Length": str(self.length), "Upload-Metadata": metadata},
        )
        assert created.status_code == 201, created.text
        self.url = created.headers["Location"]

    def offset(self) -> int:
        response = self.client.head(self.url, headers=TUS)
        assert response.status_code == 200, response.text
        return int(response.headers["Upload-Offset"])

    def send(self, sent: Callable[[int], None] = lambda offset: None) -> None:
        """Send the rest, from the offset the server acknowledged; ``sent`` is told the offset
        reached after every MiB handed to the connection."""
        offset = self.offset()
        while offset < self.length:
            size = min(TUS_CHUNK, self.length - offset)
            response = self.client.patch(
                self.url,
                headers={
                    **TUS,
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(size),
                    "Upload-Offset": str(offset),
                },
                content=self._read(offset, size, sent),
            )
            assert response.status_code == 204, response.text
            offset = int(response.headers["Upload-Offset"])

    def _read(self, offset: int, size: int, sent: Callable[[int], None]) -> Iterator[bytes]:
        with open(self.path, "rb") as source:
            source.seek(offset)
            end = offset + size
            while offset < end:
                piece = source.read(min(MiB, end - offset))
                yield piece
                offset += len(piece)
                sent(offset)


def upload(client: httpx.Client, path: Path, title: str, access: str = "free") -> int:
    """A new content with ``path`` uploaded in full; its id."""
    content_id = new_content(client, title, access)
    TusUpload(client, content_id, path).send()
    return content_id


def publish(client: httpx.Client, content_id: int) -> None:
    response = client.post(f"/api/v1/contents/{content_id}/publish")
    assert response.status_code == 202, response.text


def content(content_id: int) -> Content:
    return Content.objects.get(pk=content_id)


def step_until_hashing(worker: Paused, content_id: int) -> Content:
    """Let the paused ``worker`` run a few milliseconds at a time until a hashing run holds
    ``content_id`` (its ``hash_runner``), and return the content as the worker left it: mid-hash.

    Not "until some progress is written": progress goes to the database at most four times a
    second, from a thread of its own, and on a loaded machine this process may get the CPU back
    only after one step of the worker has run most of a 200 MiB hash, so a step with progress
    and no completion in it was sometimes never seen."""

    def holds() -> bool:
        worker.step()
        return bool(content(content_id).hash_runner)

    # Starting a hash on a CI machine running three other test workers took over 60 s.
    wait_for(holds, timeout=120, what="the worker to begin hashing")
    midway = content(content_id)
    assert midway.state == Content.State.HASHING, midway.state_detail
    assert midway.hash_progress < 1
    return midway


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while piece := source.read(16 * MiB):
            digest.update(piece)
    return digest.hexdigest()


def torrent_of(path: Path, metainfo: bytes) -> bool:
    """Whether ``metainfo`` is the single-file v1 torrent of the bytes at ``path``: its length,
    every piece's SHA-1 and the infohash over the info dict, recomputed here."""
    decoded = cast(dict[bytes, Any], lt.bdecode(metainfo))
    info = cast(dict[bytes, Any], decoded[b"info"])
    piece_length = int(info[b"piece length"])
    pieces = bytes(info[b"pieces"])
    digests = []
    with open(path, "rb") as source:
        while piece := source.read(piece_length):
            digests.append(hashlib.sha1(piece).digest())  # noqa: S324 (BitTorrent v1 is SHA-1)
    return int(info[b"length"]) == path.stat().st_size and pieces == b"".join(digests)


# --- email -------------------------------------------------------------------------------


def ask_password_reset(layout: Layout, email: str, timeout: float = 60) -> None:
    """The "forgot your password" form, as a browser posts it."""
    with httpx.Client(base_url=layout.url, timeout=timeout) as browser:
        page = browser.get("/accounts/password_reset/")
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert found is not None
        answer = browser.post(
            "/accounts/password_reset/",
            data={"email": email, "csrfmiddlewaretoken": found[1]},
        )
    assert answer.status_code == 302, answer.text


def mails_to(layout: Layout, address: str) -> list[str]:
    """Every message the layout's file-based email backend wrote to ``address``."""
    if not layout.mail_dir.exists():
        return []
    separator = "\n" + "-" * 79 + "\n"
    return [
        message
        for path in sorted(layout.mail_dir.iterdir())
        for message in path.read_text(errors="replace").split(separator)
        if re.search(rf"^To: {re.escape(address)}$", message, re.MULTILINE)
    ]


# --- paying ------------------------------------------------------------------------------


def priced_content(client: httpx.Client, creator: Creator, title: str) -> int:
    """A published paid content of ``creator``'s at 100 BTT (no files: nothing is seeded)."""
    release = Content.objects.create(
        creator=creator,
        title=title,
        name=f"{title.lower().replace(' ', '-')}.flac",
        access=Content.Access.PAID,
        state=Content.State.SEEDING,
    )
    response = client.put(
        f"/api/v1/contents/{release.pk}/price", json={"amount": "100", "token": "BTT"}
    )
    assert response.status_code == 200, response.text
    return release.pk


def new_invoice(client: httpx.Client, content_id: int) -> Invoice:
    response = client.post("/api/v1/invoices", json={"content_id": content_id})
    assert response.status_code == 201, response.text
    return Invoice.objects.get(pk=response.json()["id"])


def register_webhook(client: httpx.Client, url: str) -> None:
    """The creator's endpoint for every invoice event."""
    response = client.post("/api/v1/webhooks", json={"url": url})
    assert response.status_code == 201, response.text


def devnet_post(layout: Layout, path: str, **payload: Any) -> Any:
    response = httpx.post(f"{layout.devnet_url}/{path}", json=payload, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def in_a_block(layout: Layout, txid: str) -> bool:
    return "blockNumber" in devnet_post(layout, "wallet/gettransactioninfobyid", value=txid)


def funded_wallet(layout: Layout) -> PrivateKey:
    """A new key holding TRX for fees and 1,000 BTT, once a block has included both."""
    key = PrivateKey.random()
    address = key.public_key.to_base58check_address()
    txids = []
    for token, amount in ((TRX, 100_000_000), (BTT_TRC20, 1000 * BTT)):
        sent = devnet_post(
            layout, "devnet/faucet", address=address, token=token, amount=str(amount)
        )
        txids.append(sent["txid"])
    wait_for(lambda: all(in_a_block(layout, txid) for txid in txids), what="the faucet's coins")
    return key


def pay(layout: Layout, payer: PrivateKey, invoice: Invoice) -> str:
    """The exact amount of ``invoice`` sent from ``payer``'s wallet (TRC-20 BTT, built and
    signed with tronpy), broadcast; its txid."""
    transaction = (
        Tron(HTTPProvider(endpoint_uri=layout.devnet_url))
        .get_contract(BTT_TRC20)
        .functions.transfer(invoice.recipient, invoice.amount_due)
        .with_owner(payer.public_key.to_base58check_address())
        .fee_limit(FEE_LIMIT)
        .build()
        .sign(payer)
    )
    txid: str = transaction.broadcast().txid
    return txid


def assert_paid_once(invoice: Invoice, txid: str, receiver: Receiver) -> None:
    """``invoice`` settled by ``txid`` alone, credited once (one payment, one grant, each step
    logged once), and each of its webhook events delivered to ``receiver`` once."""
    settled = Invoice.objects.get(pk=invoice.pk)
    assert (settled.state, settled.amount_paid, settled.partial, settled.over, settled.late) == (
        Invoice.State.SETTLED,
        invoice.amount_due,
        False,
        False,
        False,
    )
    payments = list(Payment.objects.filter(invoice=invoice))
    assert [(p.txid, p.log_index) for p in payments] == [(txid, 0)]
    assert payments[0].solidified_at is not None
    assert list(settled.events.order_by("pk").values_list("kind", "to_state", "txid")) == [
        (InvoiceEvent.Kind.CREATED, Invoice.State.NEW, ""),
        (InvoiceEvent.Kind.PAYMENT, "", txid),
        (InvoiceEvent.Kind.STATE, Invoice.State.PROCESSING, txid),
        (InvoiceEvent.Kind.SOLIDIFIED, "", txid),
        (InvoiceEvent.Kind.STATE, Invoice.State.SETTLED, txid),
    ]
    assert Grant.objects.filter(user=invoice.payer, content=invoice.content).count() == 1
    assert [request.event for request in receiver.received] == [
        "invoice.created",
        "invoice.processing",
        "invoice.settled",
    ]
    deliveries = WebhookDelivery.objects.filter(invoice_event__invoice=invoice)
    assert {str(d.delivery_id) for d in deliveries} == {r.delivery_id for r in receiver.received}
    assert {(d.state, d.attempts) for d in deliveries} == {(WebhookDelivery.State.DELIVERED, 1)}
