"""The dashboard and the sales list with its CSV export: settled purchases, exact amounts."""

from __future__ import annotations

import csv
import io

from accounts.models import User
from creators.models import Creator
from payments.models import Invoice
from swarm.models import Content
from tests.creators.studio import other_creator, settled_sale
from tests.fixtures.personas import make_user
from tests.fixtures.sessions import logged_in
from tests.payments.factories import purchase


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


def test_the_csv_has_every_settled_sale_with_exact_amounts(creator: Creator, fan: User) -> None:
    # given: two settled sales, one at a price no float can hold, and an unpaid invoice
    big = settled_sale(fan, creator, "Big", "123456789012.345678901234567891")
    small = settled_sale(make_user("second"), creator, "=cmd|' /C calc'!A0", "0.5", seq=1)
    purchase(make_user("third"), creator, "Unpaid")

    # when
    response = logged_in(creator.user).get("/studio/sales.csv")

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="sales-maker-')
    header, *rows = csv_rows(response)
    assert header == [
        "settled_at", "invoice_id", "content_id", "content_title", "buyer", "token",
        "amount_paid", "amount_paid_base_units", "amount_due", "payer_address", "txids",
    ]  # fmt: skip
    by_invoice = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_invoice) == {str(big.pk), str(small.pk)}
    first = by_invoice[str(big.pk)]
    # The unique tag (1 in the sixth decimal) is part of what was paid.
    assert first["amount_paid"] == "123456789012.345679901234567891"
    assert first["amount_paid_base_units"] == "123456789012345679901234567891"
    assert first["amount_due"] == first["amount_paid"]
    assert first["token"] == "BTT"
    assert first["buyer"] == "fan"
    assert first["content_title"] == "Big"
    assert first["txids"] == " ".join(big.txids())
    assert len(first["txids"]) == 64
    # A title a spreadsheet would run as a formula is defused.
    assert by_invoice[str(small.pk)]["content_title"] == "'=cmd|' /C calc'!A0"
    assert by_invoice[str(small.pk)]["amount_paid"] == "0.500001"


def test_the_csv_of_a_creator_without_sales_is_its_header(creator: Creator) -> None:
    rows = csv_rows(logged_in(creator.user).get("/studio/sales.csv"))

    assert len(rows) == 1


def test_another_creator_sees_none_of_the_sales(creator: Creator, fan: User) -> None:
    settled_sale(fan, creator, "Mine", "10")
    rival = logged_in(other_creator().user)

    rows = csv_rows(rival.get("/studio/sales.csv"))
    page = rival.get("/studio/sales/")
    dashboard = rival.get("/studio/")

    assert len(rows) == 1
    assert b"Mine" not in page.content
    assert b"No sales yet" in page.content
    assert b"Mine" not in dashboard.content


def test_the_sales_page_lists_sales_and_totals(creator: Creator, fan: User) -> None:
    settled_sale(fan, creator, "Album", "100")
    settled_sale(make_user("second"), creator, "Single", "0.25", seq=1)

    page = logged_in(creator.user).get("/studio/sales/")

    assert page.status_code == 200
    assert b"2 settled sales" in page.content
    assert b"100.25 BTT" in page.content  # as priced: the tags are in the CSV only
    assert b"0.000001" not in page.content
    assert b"Album" in page.content
    assert b"Single" in page.content
    assert b"Export CSV" in page.content


def test_the_dashboard_totals_and_charts_settled_earnings(creator: Creator, fan: User) -> None:
    # given
    invoice = settled_sale(fan, creator, "Album", "100")
    assert invoice.content_id is not None
    Content.objects.filter(pk=invoice.content_id).update(
        peers=4, seeds=1, upload_rate=2048, bytes_uploaded=3 * 1024**3
    )

    # when
    response = logged_in(creator.user).get("/studio/")

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "100 BTT" in html
    assert "100.000001" not in html  # the unique-amount tag is not earnings
    assert 'id="earnings-chart"' in html
    chart = response.context["chart"]
    assert len(chart["labels"]) == 30
    (series,) = chart["series"]
    assert series["token"] == "BTT"
    assert series["values"][-1] == "100"  # today, as an exact string
    assert set(series["values"][:-1]) == {"0"}
    swarm = response.context["swarm"]
    assert (swarm.peers, swarm.seeds, swarm.upload_rate) == (4, 1, 2048)
    assert "3.0\xa0GB" in html  # filesizeformat keeps number and unit together
    assert "No tips yet" in html
    assert "No pledges yet" in html


def test_an_empty_dashboard_says_what_comes_where(creator: Creator) -> None:
    html = logged_in(creator.user).get("/studio/").content.decode()

    assert "No sales yet" in html
    assert "No earnings in the last 30 days" in html
    assert "Nothing seeding yet" in html
    assert 'id="earnings-chart"' not in html
    assert "Upload your first content" in html
    # The settings the dashboard links to.
    assert 'href="/settings/profile/"' in html
    assert 'href="/settings/tokens/"' in html
    assert 'href="/studio/webhooks/"' in html


def test_unsettled_invoices_are_not_sales(creator: Creator, fan: User) -> None:
    invoice = purchase(fan, creator, "Pending")
    Invoice.objects.filter(pk=invoice.pk).update(state=Invoice.State.PROCESSING)

    response = logged_in(creator.user).get("/studio/")

    assert response.context["sales"].count == 0
    assert response.context["sales"].amounts == {}
