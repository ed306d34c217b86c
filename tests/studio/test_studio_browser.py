"""The creator's path in Chromium: sign up, onboard with a TRON address, upload a file on the
upload page, watch it hash and seed (a real Celery worker hashes it), price it and look at the
studio; screenshots of the dashboard, upload and content pages at desktop and phone width."""

from __future__ import annotations

import hashlib
import json
import time

from playwright.sync_api import FileChooser, FilePayload, Page, WebSocket, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from accounts.models import User
from creators.models import Creator
from payments.models import ContentPrice
from swarm import uploads_store
from swarm.models import Content, Upload
from tests.creators.studio import settled_sale
from tests.fixtures.browser import (
    SCREENSHOT_DIR,
    VIEWPORTS,
    Chromium,
    assert_page_clean,
    outside_browser_loop,
)
from tests.fixtures.personas import PASSWORD, TRON_ADDRESS, make_user
from tests.fixtures.processes import Child
from tests.fixtures.servers import AsgiServer

# 3 MiB that are not all alike, so the pieces differ.
DATA = hashlib.sha256(b"field recording").digest() * (3 * 1024 * 1024 // 32)
# The total supply of BTT plus one base unit: no float survives it.
# Every decimal in use, just under the supply (a price with its tag stays below it).
EXACT_PRICE = "989999999999998.000000000000000001"


# Elements that may be wider than the screen because their box scrolls sideways.
SCROLLERS = ".table-scroll, .studio-nav ul"
OVERFLOWING = f"""() => [...document.querySelectorAll("body *")]
    .filter((e) => !e.closest("{SCROLLERS}") || e.matches("{SCROLLERS}"))
    .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map((e) => `${{e.tagName.toLowerCase()}}.${{e.className}}`)"""


def pictures(page: Page, name: str) -> None:
    """Screenshots at both widths (SCREENSHOT_DIR/<name>-desktop|phone.png), each taken once
    the page has laid itself out again (the chart resizes a frame after the window); at phone
    width nothing may stick out sideways."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for label in ("phone", "desktop"):
        page.set_viewport_size(VIEWPORTS[label])
        page.evaluate(SETTLED)
        if label == "phone":
            assert page.evaluate(OVERFLOWING) == [], f"{name}: wider than a phone"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=SCREENSHOT_DIR / f"{name}-{label}.png", full_page=True)


SETTLED = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


def test_a_creator_uploads_watches_hashing_then_seeding_and_prices_it(
    browser: Chromium, asgi_server: AsgiServer, celery_worker: Child
) -> None:
    page = browser.open(asgi_server.url)
    frames: list[dict[str, object]] = []

    def listen(socket: WebSocket) -> None:
        if "/ws/content/" in socket.url:
            socket.on("framereceived", lambda frame: frames.append(json.loads(frame)))

    page.on("websocket", listen)

    # Sign up, then become a creator with a TRON payout address.
    page.goto("/signup/")
    page.get_by_label("Username").fill("nova")
    page.get_by_label("Email").fill("nova@example.com")
    # By id: their labels are both "Password…" with a required mark.
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Welcome, nova!")).to_be_visible()
    page.goto("/become-creator/")
    page.get_by_label("Handle").fill("nova")
    page.get_by_label("Display name").fill("Nova Sound")
    page.get_by_label("TRON payout address").fill(TRON_ADDRESS)
    page.get_by_role("button", name="Create my creator page").click()
    expect(page.get_by_text("You are now a creator")).to_be_visible()

    # The studio, empty, from the main navigation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Studio").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("No earnings in the last 30 days.")).to_be_visible()
    pictures(page, "studio-dashboard-empty")

    # Details first: a paid content at an exact price.
    page.get_by_role("link", name="Upload new content").first.click()
    page.get_by_label("Title").fill("Night Walks")
    page.get_by_label("Description").fill("Field recordings from the city at night.")
    page.get_by_label("Paid: only buyers (private torrent)").check()
    page.get_by_label("Price").fill("12.5")
    page.get_by_role("button", name="Continue to files").click()

    # The upload page: the file goes up by tus with its own bar.
    expect(page.get_by_role("heading", name="Files", exact=True)).to_be_visible()
    publish = page.get_by_role("button", name="Publish")
    expect(publish).to_be_disabled()
    wav: FilePayload = {"name": "night walk.wav", "mimeType": "audio/wav", "buffer": DATA}
    page.get_by_label("Choose files").set_input_files([wav])
    item = page.locator(".upload-item").filter(has_text="night walk.wav")
    expect(item.locator("[data-status]")).to_have_text("Uploaded", timeout=60_000)
    expect(item.locator("progress")).to_have_attribute("value", str(len(DATA)))
    expect(publish).to_be_enabled()
    pictures(page, "studio-upload")

    # Publish: hashing, then seeding, live.
    publish.click()
    status = page.locator("[data-ingest]")
    expect(status.locator("[data-ingest-state]")).to_have_text("Seeding", timeout=60_000)
    history = (status.get_attribute("data-history") or "").split()
    # Forward only: Publish's own answer, arriving after the socket's "seeding", once turned
    # the page back to "hashing" for a moment.
    assert history[history.index("hashing") :] == ["hashing", "seeding"], (history, frames)
    expect(status.locator("[data-ingest-progress]")).to_have_js_property("value", 1)

    # The page polls too, so "Seeding" on it may have come from a poll while the socket's own
    # events (each checked against the database first) are still on their way: they arrive.
    def heard() -> list[tuple[object, object]]:
        return [(f["type"], f["state"]) for f in frames if f.get("type") == "ingest"]

    deadline = time.monotonic() + 30
    while heard()[-1:] != [("ingest", "seeding")] and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # Playwright delivers the socket's frames while it waits
    seen = heard()
    assert seen[0] == ("ingest", "hashing"), frames
    assert seen[-1] == ("ingest", "seeding"), frames
    pictures(page, "studio-upload-published")

    # The content page: a new exact price, then the live swarm panel.
    page.get_by_role("link", name="Watch the swarm and edit details").click()
    price = page.get_by_label("Price")
    expect(price).to_have_value("12.5")
    expect(page.get_by_label("Paid: only buyers (private torrent)")).to_be_disabled()
    price.fill(EXACT_PRICE)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page.get_by_label("Price")).to_have_value(EXACT_PRICE)
    panel = page.get_by_role("region", name="Live swarm")
    expect(panel.locator("[data-live-status]")).to_have_text("Live")
    pictures(page, "studio-content")

    with outside_browser_loop():
        content = Content.objects.get(creator__handle="nova")
        assert content.state == Content.State.SEEDING
        assert content.total_size == len(DATA)
        assert ContentPrice.objects.get(content=content).amount.decimal_string() == EXACT_PRICE
        creator = Creator.objects.get(handle="nova")
        # Sales to show on the dashboard: a fan bought another content (settled on chain).
        settled_sale(make_user("fan"), creator, "Live at the Harbour", "250")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".chart-box[data-drawn=true]")).to_be_visible()
    # The sale as priced: the unique-amount tag that paid it is not earnings.
    expect(page.get_by_text("250 BTT", exact=True).first).to_be_visible()
    assert "250.000001" not in page.locator("main").inner_text()
    pictures(page, "studio-dashboard")
    page.get_by_role("link", name="Content", exact=True).click()
    expect(page.get_by_role("link", name="Night Walks", exact=True)).to_be_visible()
    pictures(page, "studio-content-list")
    page.get_by_role("link", name="Sales", exact=True).click()
    pictures(page, "studio-sales")
    page.get_by_role("link", name="Webhooks", exact=True).click()
    pictures(page, "studio-webhooks")
    assert_page_clean(page)


def space_opens_the_file_chooser(page: Page) -> FileChooser:
    """Space on the focused file input opens the chooser. Headless Chromium on a busy machine
    now and then drops a key event; the key is pressed again, with the focus still there."""
    for _ in range(3):
        assert page.evaluate("document.activeElement.id") == "file-input"
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press(" ")
            return chooser.value
        except PlaywrightTimeoutError:
            continue
    raise AssertionError("Space on the file input opened no file chooser")


def test_the_upload_page_is_keyboard_operable(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    with outside_browser_loop():
        content = Content.objects.create(creator=creator, title="Keys", access="free")
    page = browser.open(asgi_server.url, creator.user)
    page.goto(f"/studio/content/{content.pk}/upload/")
    # The page's script (the uploader) is in before keys are pressed: on a busy machine a key
    # pressed while it loads went nowhere.
    page.wait_for_load_state("networkidle")

    # Tab from the top reaches the file picker; its label is the visible button.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "file-input":
            break
    assert page.evaluate("document.activeElement.id") == "file-input"
    text: FilePayload = {"name": "a.txt", "mimeType": "text/plain", "buffer": b"abc" * 100}
    space_opens_the_file_chooser(page).set_files([text])
    expect(page.locator(".upload-item [data-status]")).to_have_text("Uploaded", timeout=60_000)
    expect(page.get_by_role("button", name="Publish")).to_be_enabled()
    assert_page_clean(page)


def test_a_fan_sees_the_way_to_become_a_creator(browser: Chromium, asgi_server: AsgiServer) -> None:
    browser.allow_console_error(r"status of 403 .*/studio/\)$", "the studio refuses a fan")
    with outside_browser_loop():
        fan: User = make_user("listener")
    page = browser.open(asgi_server.url, fan)

    response = page.goto("/studio/")

    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("link", name="Become a creator").first).to_be_visible()


def test_an_interrupted_upload_resumes_when_the_same_file_is_added_again(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: half of a file arrived in an earlier visit (its upload row says how much)
    with outside_browser_loop():
        content = Content.objects.create(creator=creator, title="Halfway", access="free")
        upload = uploads_store.create_upload(creator.user, content.pk, "take two.wav", len(DATA))
        writer = uploads_store.UploadWriter(upload)
        writer.begin(0)
        writer.write(DATA[: len(DATA) // 2])
        writer.commit()
        writer.close()
    page = browser.open(asgi_server.url, creator.user)
    page.goto(f"/studio/content/{content.pk}/upload/")
    item = page.locator(".upload-item").filter(has_text="take two.wav")
    expect(item.locator("[data-status]")).to_contain_text("add the same file again to resume")
    expect(page.get_by_role("button", name="Publish")).to_be_disabled()

    # when: the creator adds the same file
    wav: FilePayload = {"name": "take two.wav", "mimeType": "audio/wav", "buffer": DATA}
    page.get_by_label("Choose files").set_input_files([wav])

    # then: the same upload is finished, not a second one started
    expect(item.locator("[data-status]")).to_have_text("Uploaded", timeout=60_000)
    expect(page.locator(".upload-item")).to_have_count(1)
    expect(page.get_by_role("button", name="Publish")).to_be_enabled()
    with outside_browser_loop():
        (finished,) = Upload.objects.filter(content=content)
        assert finished.pk == upload.pk
        assert finished.offset == len(DATA)
        assert finished.file_path.read_bytes() == DATA
    assert_page_clean(page)
