"""Shared fixtures: personas, a live ASGI server, and real worker and engine processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from django.conf import settings
from django.db import connection
from tronpy import Tron
from tronpy.providers import HTTPProvider

from accounts.models import User
from creators.models import Creator

BASE_DIR = Path(settings.BASE_DIR)
# A real mainnet address (the TRC-20 BTT contract): valid base58check, T prefix.
TRON_ADDRESS = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"
PASSWORD = "correct horse battery staple 42"


def wait_for(
    condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll until ``condition()`` is truthy; a generous deadline guards against hangs only."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session", autouse=True)
def collected_static_files() -> None:
    """Pages use the hashed-manifest static storage of production, so collect once per run."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


# --- personas --------------------------------------------------------------------------------


def make_user(username: str, **extra: object) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, **extra
    )


@pytest.fixture
def fan(db: None) -> User:
    return make_user("fan")


@pytest.fixture
def stranger(db: None) -> User:
    return make_user("stranger")


@pytest.fixture
def staff(db: None) -> User:
    return make_user("staff", is_staff=True)


@pytest.fixture
def creator(db: None) -> Creator:
    user = make_user("maker")
    return Creator.objects.create(
        user=user, handle="maker", display_name="The Maker", payout_address=TRON_ADDRESS
    )


# --- processes -------------------------------------------------------------------------------


def process_environment(**extra: str) -> dict[str, str]:
    """The environment for a worker or engine process that shares this test run's database."""
    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_child(name: str, args: list[str], env: dict[str, str], tmp_path: Path) -> Child:
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Child(name, process, log)


def start_worker(
    tmp_path: Path,
    *,
    command: list[str] | None = None,
    label: str = "worker",
    extra: dict[str, str] | None = None,
    broker: str | None = None,
) -> Child:
    """A real ``celery worker`` process on the real broker, sharing the test database; returns
    once it answers a ping. ``command`` replaces ``python -m celery`` (e.g. a wrapper module);
    ``broker`` (a kombu URL) says its ``extra`` environment points it at another broker."""
    from btt_platform.celery import app

    name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    env = process_environment(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        **(extra or {}),
    )
    child = start_child(
        f"{label}-{name.split('@')[0]}",
        [*(command or [sys.executable, "-m", "celery"]), "-A", "btt_platform", "worker",
         "-P", "solo", "--without-mingle", "--without-gossip", "-n", name, "--loglevel=INFO"],
        env,
        tmp_path,
    )  # fmt: skip
    child.name = name

    def ready() -> object:
        if broker is None:
            return app.control.ping(destination=[name], timeout=0.5)
        # On another broker than this process's: its log says so once it consumes.
        return f"{name} ready." in child.output()

    try:
        wait_for(
            lambda: child.process.poll() is not None or ready(),
            timeout=60,
            what=f"celery worker {name}",
        )
    except BaseException:
        child.stop()
        raise
    assert child.process.poll() is None, child.output()
    return child


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[Child]:
    """A real ``celery worker`` process on the real broker, sharing the test database."""
    child = start_worker(tmp_path)
    try:
        yield child
    finally:
        child.stop()


def launch_engine(tmp_path: Path, env: dict[str, str], name: str | None = None) -> Child:
    """Start the engine and wait for its first heartbeat (a newer one, for a restart)."""
    from django.utils import timezone

    from swarm.models import EngineNode

    name = name or f"test-engine-{uuid.uuid4().hex[:8]}"
    env = {
        "SWARM_LISTEN_INTERFACES": f"127.0.0.1:{free_port()}",
        "SWARM_STATE_DIR": str(tmp_path / f"swarm-{name}"),
        "SWARM_HEARTBEAT_SECONDS": "1",
        "SWARM_RECONCILE_SECONDS": "1",
        **env,
        "SWARM_NODE_NAME": name,
    }
    started = timezone.now()
    child = start_child(
        f"swarm-{name}-{uuid.uuid4().hex[:4]}",
        [sys.executable, "manage.py", "runswarm"],
        process_environment(**env),
        tmp_path,
    )
    engine = Child(name, child.process, child.log)
    try:
        wait_for(
            lambda: (
                engine.process.poll() is not None
                or EngineNode.objects.filter(name=name, last_heartbeat__gte=started).exists()
            ),
            timeout=60,
            what="the engine's first heartbeat",
        )
    except BaseException:
        engine.stop()
        raise
    assert engine.process.poll() is None, engine.output()
    return engine


@pytest.fixture
def engine_factory(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Starts real engines with extra environment (SITE_URL, CONTENT_ROOT, ...); all stopped after.

    ``engine_factory(name=old.name, ...)`` restarts a stopped engine: the node name picks the
    same state folder, so it finds its resume data.
    """
    started: list[Child] = []

    def factory(name: str | None = None, **env: str) -> Child:
        engine = launch_engine(tmp_path, env, name)
        started.append(engine)
        return engine

    try:
        yield factory
    finally:
        for engine in started:
            engine.stop()


@pytest.fixture
def swarm_engine(engine_factory: Callable[..., Child]) -> Child:
    """A real ``manage.py runswarm`` process with its own node name, state folder and port."""
    return engine_factory()


# --- TRON devnet ----------------------------------------------------------------------------

# Blocks every second keep waits short; a window of 40 blocks lets a test make a reference
# block stale by mining, where java-tron's 65,536 would take a day of blocks.
DEVNET_ENV = {
    "TRON_DEVNET_BLOCK_SECONDS": "1",
    "TRON_DEVNET_SOLIDIFY_BLOCKS": "19",
    "TRON_DEVNET_TAPOS_BLOCKS": "40",
}


@dataclass
class Devnet:
    url: str
    state: Path
    child: Child

    def post(self, path: str, **payload: Any) -> Any:
        response = httpx.post(f"{self.url}/{path}", json=payload, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}/{path}", params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def faucet(self, address: str, token: str, amount: int) -> str:
        answer = self.post("devnet/faucet", address=address, token=token, amount=str(amount))
        assert answer.get("result") is True, answer
        txid: str = answer["txid"]
        return txid

    def mine(self, blocks: int = 1) -> dict[str, Any]:
        answer: dict[str, Any] = self.post("devnet/mine", blocks=blocks)
        return answer

    def head(self) -> int:
        number: int = self.post("wallet/getnowblock")["block_header"]["raw_data"]["number"]
        return number

    def tron(self) -> Tron:
        return Tron(HTTPProvider(endpoint_uri=self.url))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return self.child.stop(sig)


def launch_devnet(tmp_path: Path, state: Path, **env: str) -> Devnet:
    port = free_port()
    child = start_child(
        f"devnet-{port}",
        [sys.executable, "manage.py", "tron_devnet", "--port", str(port), "--state", str(state)],
        process_environment(PYTHONUNBUFFERED="1", **{**DEVNET_ENV, **env}),
        tmp_path,
    )
    devnet = Devnet(f"http://127.0.0.1:{port}", state, child)

    def answers() -> bool:
        assert child.process.poll() is None, child.output()
        try:
            return "block" in httpx.get(f"{devnet.url}/wallet/getnodeinfo", timeout=2).json()
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout=60, what="the devnet to answer")
    except BaseException:
        child.stop()
        raise
    return devnet


@pytest.fixture
def tron_node(tmp_path: Path, settings: object) -> Iterator[Devnet]:
    """A devnet process that this test process's settings point at (TRON_API_URL)."""
    node = launch_devnet(tmp_path, tmp_path / "chain.sqlite3")
    settings.TRON_API_URL = node.url  # type: ignore[attr-defined]
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def node_and_worker(
    tron_node: Devnet, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Devnet:
    """The devnet, and a real worker (it proves claimed payments) whose TRON_API_URL is it."""
    monkeypatch.setenv("TRON_API_URL", tron_node.url)
    request.getfixturevalue("celery_worker")
    return tron_node


# --- live ASGI server ------------------------------------------------------------------------


@dataclass
class AsgiServer:
    url: str
    host: str
    port: int


@pytest.fixture
def asgi_server(transactional_db: None, django_db_blocker: object) -> Iterator[AsgiServer]:
    """The real ASGI application (HTTP and WebSockets) under uvicorn on a free loopback port."""
    from btt_platform.asgi import application

    port = free_port()
    config = uvicorn.Config(
        application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30, what="uvicorn to start")
    try:
        yield AsgiServer(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        # uvicorn waits for every connection's task: a consumer that never ends (a swallowed
        # cancellation) keeps the server up and its broadcast hub bound to its loop.
        assert not thread.is_alive(), "the ASGI server did not stop: a connection never ended"


@pytest.fixture(autouse=True)
def _rate_limits_off_unless_asked(request: pytest.FixtureRequest, settings: object) -> None:
    """Limits count in the shared Redis across tests; only the tests about them turn them on."""
    if "rate_limits" not in request.keywords:
        settings.RATELIMIT_ENABLE = False  # type: ignore[attr-defined]


# --- browser ---------------------------------------------------------------------------------

import asyncio  # noqa: E402 - this section's own imports, kept with it
import contextlib  # noqa: E402
import weakref  # noqa: E402

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    Download,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

# Debian's chromium: `playwright install` downloads a browser build, which CI cannot.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Gitignored; CI keeps it as an artifact. Every run overwrites the previous pictures.
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR", BASE_DIR / "test-artifacts" / "screenshots"))
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
# Uncaught exceptions and CSP violations per page, for assert_page_clean.
_page_problems: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def outside_browser_loop() -> Iterator[None]:
    """For database work in a test once its browser runs.

    Playwright's sync API leaves its event loop marked as running in the test's thread between
    calls. There Django refuses ORM calls (SynchronousOnlyOperation) and ``async_to_sync``
    (broadcasts after commit) refuses to run; and with DJANGO_ALLOW_ASYNC_UNSAFE the ORM would
    quietly open a second connection that nothing closes.
    """
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)


class Chromium:
    """Headless chromium, started on the first page a test opens.

    Started late, so that a test sets up its data before Playwright's loop occupies the
    thread; database work after that goes in ``outside_browser_loop()``.
    """

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    @property
    def browser(self) -> Browser:
        if self._browser is None:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                # Media may play without a click, so tests can start playback themselves.
                args=["--autoplay-policy=no-user-gesture-required"],
            )
        return self._browser

    def open(self, base_url: str, user: User | None = None) -> Page:
        """A page in a fresh context (own cookies and cache) at desktop size, as ``user``."""
        context = self.browser.new_context(
            base_url=base_url, viewport=VIEWPORTS["desktop"], accept_downloads=True
        )
        if user is not None:
            log_in(context, user, base_url)
        page = context.new_page()
        problems: list[str] = []
        _page_problems[page] = problems
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()  # the thread has no event loop again


@pytest.fixture
def browser(transactional_db: None) -> Iterator[Chromium]:
    """Chromium for this test only (it starts in well under a second).

    After the database fixture, so stopped before the database is flushed: the flush cannot
    run while Playwright's loop occupies the thread.
    """
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Chromium, asgi_server: AsgiServer) -> Page:
    """An anonymous page on the live server; ``log_in(page.context, ...)`` signs it in."""
    return browser.open(asgi_server.url)


def log_in(context: BrowserContext, user: User, base_url: str) -> None:
    """Signs the browser in as ``user``: the session of a real log-in by Django's test client."""
    from django.test import Client

    with outside_browser_loop():
        client = Client()
        client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    context.add_cookies(
        [{"name": name, "value": client.cookies[name].value, "url": base_url, "httpOnly": True}]
    )


def assert_page_clean(page: Page) -> None:
    """No uncaught script error and no CSP violation happened on ``page`` so far."""
    assert _page_problems.get(page, []) == []


def save_download(download: Download, folder: Path) -> Path:
    """Where a browser download landed, under ``folder`` with the name the page gave it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / download.suggested_filename
    download.save_as(path)
    return path


def screenshots(page: Page, name: str) -> list[Path]:
    """Full-page screenshots at desktop and phone width, into SCREENSHOT_DIR; back to desktop.

    Also fails when the page is wider than either screen (a sideways scroll on a phone).
    """
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        path = SCREENSHOT_DIR / f"{name}-{label}.png"
        page.screenshot(path=path, full_page=True)
        paths.append(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} is {width}px wide on a {label}"
    page.set_viewport_size(VIEWPORTS["desktop"])
    return paths
