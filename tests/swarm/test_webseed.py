"""The HTTP web seed (BEP 19) through the live ASGI server: tokens, ranges, CORS, X-Accel."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from django.db import transaction
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from swarm.models import Content, ContentFile
from swarm.services import rotate_passkey
from swarm.webseed import tokens
from tests.fixtures.processes import BASE_DIR, free_port, process_environment, wait_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.webseed import DATA, SIZE, assert_refused, file_url, publish

pytestmark = pytest.mark.usefixtures("webseed_content_root")


# --- access -----------------------------------------------------------------------------------


def test_webseed_url_is_the_url_list_base(settings, creator: Creator, fan: User) -> None:
    free = publish(creator, DATA)
    paid = publish(creator, DATA, name="paid.bin", access=Content.Access.PAID)

    assert tokens.webseed_url_for(None, free) == f"{settings.SITE_URL}/webseed/{free.pk}/open/"
    paid_url = tokens.webseed_url_for(fan, paid)
    token = paid_url.split("/")[-2]
    assert paid_url == f"{settings.SITE_URL}/webseed/{paid.pk}/{token}/"
    assert len(token) <= 40
    with pytest.raises(ValueError, match="anonymous"):
        tokens.webseed_url_for(None, paid)


def test_free_content_is_open_to_anyone(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, DATA)

    response = httpx.get(file_url(asgi_server.url, None, content))

    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"].startswith('"')
    assert response.headers["access-control-allow-origin"] == "*"
    assert "content-encoding" not in response.headers
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_paid_content_refuses_the_open_token(
    asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    content = publish(creator, DATA, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)

    response = httpx.get(f"{asgi_server.url}/webseed/{content.pk}/open/{content.name}")

    assert_refused(response, 403)


def test_entitled_fan_and_the_creator_download_paid_content(
    asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    content = publish(creator, DATA, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)

    by_fan = httpx.get(file_url(asgi_server.url, fan, content))
    by_creator = httpx.get(file_url(asgi_server.url, creator.user, content))

    assert by_fan.status_code == 200
    assert by_fan.content == DATA
    assert by_fan.headers["cache-control"].startswith("private")
    assert by_creator.status_code == 200
    assert by_creator.content == DATA


def _with_user_id(token: str, user_id: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[0:8] = user_id.to_bytes(8, "big")
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "case", ["forged", "garbage", "expired", "other-user", "not-entitled", "other-content"]
)
def test_bad_tokens_get_403_and_no_bytes(
    asgi_server: AsgiServer, creator: Creator, fan: User, stranger: User, case: str
) -> None:
    # given: paid content the fan may download, and another one they may download too
    content = publish(creator, DATA, access=Content.Access.PAID)
    other = publish(creator, DATA, name="other.bin", access=Content.Access.PAID)
    for entitled in (content, other):
        ledger.grant(fan, entitled, Grant.Source.STAFF)
    good = tokens.issue_token(fan, content)
    token = {
        "forged": base64.urlsafe_b64encode(os.urandom(28)).rstrip(b"=").decode(),
        "garbage": "not-a-token",
        "expired": tokens.issue_token(fan, content, now=time.time() - 8 * 24 * 3600),
        # the fan's signature with the stranger's id put in
        "other-user": _with_user_id(good, stranger.pk),
        # a valid token of a user who did not buy it
        "not-entitled": tokens.issue_token(stranger, content),
        # the fan's valid token for the other content
        "other-content": tokens.issue_token(fan, other),
    }[case]

    # when
    url = f"{asgi_server.url}/webseed/{content.pk}/{token}/{content.name}"
    get = httpx.get(url, headers={"Range": "bytes=0-99"})
    head = httpx.head(url)

    # then
    assert_refused(get, 403)
    assert head.status_code == 403
    assert httpx.get(file_url(asgi_server.url, fan, content)).content == DATA  # the real one works


def test_rotating_the_passkey_revokes_every_token(
    asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    content = publish(creator, DATA, access=Content.Access.PAID)
    ledger.grant(fan, content, Grant.Source.STAFF)
    used = file_url(asgi_server.url, fan, content)
    # Tokens issued in the same second are equal: take one from a minute earlier.
    earlier = tokens.issue_token(fan, content, now=time.time() - 60)
    unused = f"{asgi_server.url}/webseed/{content.pk}/{earlier}/"
    assert httpx.get(used).status_code == 200

    rotate_passkey(fan)

    assert_refused(httpx.get(unused + content.name), 403)
    # A decision is cached for WEBSEED_AUTH_CACHE_SECONDS, so the used URL follows shortly.
    wait_for(lambda: httpx.get(used).status_code == 403, what="the revocation")
    assert_refused(httpx.get(used), 403)
    assert httpx.get(file_url(asgi_server.url, fan, content)).content == DATA  # a new URL works


def test_removed_content_is_gone(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, DATA)
    url = file_url(asgi_server.url, None, content)
    assert httpx.get(url).status_code == 200

    Content.objects.filter(pk=content.pk).update(state=Content.State.REMOVED)

    wait_for(lambda: httpx.get(url).status_code == 410, what="the takedown")
    assert_refused(httpx.get(url, headers={"Range": "bytes=0-9"}), 410)
    assert httpx.head(url).status_code == 410


def test_unknown_content_and_paths_get_404(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, {"a.txt": b"a", "b.txt": b"b"}, name="bundle")
    base = f"{asgi_server.url}/webseed/{content.pk}/open/"

    assert_refused(httpx.get(f"{asgi_server.url}/webseed/999999/open/bundle/a.txt"), 404)
    assert_refused(httpx.get(base + "bundle/c.txt"), 404)
    assert_refused(httpx.get(base + "bundle"), 404)  # the folder is not a file
    assert_refused(httpx.get(base + "bundle/%2e%2e/bundle/a.txt"), 404)
    assert_refused(httpx.get(base + "bundle/..%2f..%2f..%2fetc%2fpasswd"), 404)


def test_file_missing_on_disk_is_not_a_404(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, DATA)
    (tokens.content_dir(content.pk) / content.name).unlink()

    response = httpx.get(file_url(asgi_server.url, None, content))

    # 404 would make libtorrent give the file up on this seed for good.
    assert_refused(response, 500)


# --- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-100", 100, 100),
        ("bytes=10000-", 10000, SIZE - 1),  # open-ended
        ("bytes=-5", SIZE - 5, SIZE - 1),  # suffix
        ("bytes=-99999", 0, SIZE - 1),  # suffix longer than the file
        ("bytes=5000-99999999", 5000, SIZE - 1),  # last byte past the end
        ("BYTES = 7-8", 7, 8),
        ("bytes=0-1,", 0, 1),  # an empty list element
    ],
)
def test_single_ranges(
    asgi_server: AsgiServer, creator: Creator, range_header: str, first: int, last: int
) -> None:
    content = publish(creator, DATA)

    response = httpx.get(file_url(asgi_server.url, None, content), headers={"Range": range_header})

    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.content == DATA[first : last + 1]
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize(
    "range_header",
    [
        f"bytes={SIZE}-",  # starts past the end
        f"bytes={SIZE + 10}-{SIZE + 20}",
        "bytes=-0",  # an empty suffix
        "bytes=5-2",  # backwards
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=-",
        "bytes=",
        "bytes 0-9",
        "items=0-9",
        "bytes=0-9,5-20",  # overlapping
        "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(40)),  # too many
        "bytes=\u0661-\u0662",  # non-ASCII digits
    ],
)
def test_bad_ranges_get_416(asgi_server: AsgiServer, creator: Creator, range_header: str) -> None:
    content = publish(creator, DATA)

    response = httpx.get(
        file_url(asgi_server.url, None, content), headers={b"Range": range_header.encode()}
    )

    assert_refused(response, 416)
    assert response.headers["content-range"] == f"bytes */{SIZE}"


def test_multiple_ranges_come_as_multipart(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, DATA)

    response = httpx.get(
        file_url(asgi_server.url, None, content), headers={"Range": "bytes=0-1, 100-103, -2"}
    )

    assert response.status_code == 206
    media_type, _, boundary = response.headers["content-type"].partition("; boundary=")
    assert media_type == "multipart/byteranges"
    assert int(response.headers["content-length"]) == len(response.content)
    parts = response.content.split(f"--{boundary}".encode())
    assert parts[0] == b"\r\n"
    assert parts[-1] == b"--\r\n"
    bodies = []
    for part in parts[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        bodies.append((head.decode().strip().splitlines()[-1], body.removesuffix(b"\r\n")))
    assert bodies == [
        (f"Content-Range: bytes 0-1/{SIZE}", DATA[0:2]),
        (f"Content-Range: bytes 100-103/{SIZE}", DATA[100:104]),
        (f"Content-Range: bytes {SIZE - 2}-{SIZE - 1}/{SIZE}", DATA[-2:]),
    ]


def test_head_gives_the_headers_of_get_without_a_body(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    content = publish(creator, DATA)
    url = file_url(asgi_server.url, None, content)

    whole = httpx.head(url)
    part = httpx.head(url, headers={"Range": "bytes=-100"})
    get = httpx.get(url, headers={"Range": "bytes=-100"})

    assert whole.status_code == 200
    assert whole.content == b""
    assert whole.headers["content-length"] == str(SIZE)
    assert whole.headers["accept-ranges"] == "bytes"
    assert part.status_code == 206
    assert part.content == b""
    assert part.headers["content-range"] == f"bytes {SIZE - 100}-{SIZE - 1}/{SIZE}"
    assert part.headers["content-length"] == "100"
    for name in ("content-range", "content-length", "etag", "content-type", "last-modified"):
        assert part.headers[name] == get.headers[name]


def test_conditional_requests(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, DATA)
    url = file_url(asgi_server.url, None, content)
    etag = httpx.head(url).headers["etag"]

    not_modified = httpx.get(url, headers={"If-None-Match": f'"other", {etag}'})
    same = httpx.get(url, headers={"Range": "bytes=0-3", "If-Range": etag})
    changed = httpx.get(url, headers={"Range": "bytes=0-3", "If-Range": '"stale"'})

    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert same.status_code == 206
    assert same.content == DATA[:4]
    assert changed.status_code == 200  # the whole new representation
    assert changed.content == DATA


def test_bundle_files_and_percent_encoded_paths(asgi_server: AsgiServer, creator: Creator) -> None:
    files = {"cover.jpg": b"jpeg", "disc 1/01-intro.mp3": b"mp3 bytes", "notes.html": b"<b>"}
    content = publish(creator, files, name="album-2024")
    base = f"{asgi_server.url}/webseed/{content.pk}/open/"

    cover = httpx.get(base + "album-2024/cover.jpg")
    track = httpx.get(base + "album-2024/disc%201/01-intro.mp3", headers={"Range": "bytes=4-"})
    encoded = httpx.get(base + "%61lbum-2024%2Fnotes%2Ehtml")

    assert cover.content == b"jpeg"
    assert cover.headers["content-type"] == "image/jpeg"
    assert track.status_code == 206
    assert track.content == b"bytes"
    assert track.headers["content-type"] == "audio/mpeg"
    assert encoded.content == b"<b>"
    # Never served as a page from the site's origin.
    assert encoded.headers["content-type"] == "application/octet-stream"
    assert encoded.headers["content-security-policy"].startswith("sandbox")


def test_single_file_content_is_served_under_its_name(
    asgi_server: AsgiServer, creator: Creator
) -> None:
    content = publish(creator, DATA, name="film.mp4")
    base = f"{asgi_server.url}/webseed/{content.pk}/open/"

    response = httpx.get(base + "film.mp4", headers={"Range": "bytes=0-0"})

    assert response.content == DATA[:1]
    assert response.headers["content-type"] == "video/mp4"
    assert_refused(httpx.get(base + "film.mp4/film.mp4"), 404)


def test_cors_preflight(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, DATA, access=Content.Access.PAID)

    response = httpx.options(
        f"{asgi_server.url}/webseed/{content.pk}/open/{content.name}",
        headers={
            "Origin": "https://player.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range, cache-control",
        },
    )

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert allowed >= {"range", "cache-control", "user-agent"}
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert exposed >= {"content-range", "content-length", "accept-ranges", "etag"}


def test_other_methods_are_not_allowed(asgi_server: AsgiServer, creator: Creator) -> None:
    content = publish(creator, DATA)

    response = httpx.post(file_url(asgi_server.url, None, content), content=b"x")

    assert_refused(response, 405)
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


async def test_concurrent_requests_share_one_authorisation(
    asgi_server: AsgiServer, committed_track: Content
) -> None:
    url = f"{asgi_server.url}/webseed/{committed_track.pk}/open/{committed_track.name}"
    offsets = range(0, SIZE, SIZE // 20)

    async with httpx.AsyncClient() as client:
        responses = await asyncio.gather(
            *(client.get(url, headers={"Range": f"bytes={o}-{o + 99}"}) for o in offsets)
        )

    assert [r.status_code for r in responses] == [206] * len(offsets)
    assert [r.content for r in responses] == [DATA[o : o + 100] for o in offsets]


def test_throttled_responses_still_complete(
    settings, asgi_server: AsgiServer, creator: Creator
) -> None:
    settings.WEBSEED_RATE_LIMIT = 256 * 1024
    data = os.urandom(300 * 1024)
    content = publish(creator, data)

    whole = httpx.get(file_url(asgi_server.url, None, content), timeout=60)
    part = httpx.get(
        file_url(asgi_server.url, None, content), headers={"Range": "bytes=1000-"}, timeout=60
    )

    assert whole.status_code == 200
    assert whole.content == data
    assert part.status_code == 206
    assert part.content == data[1000:]


# --- production mode --------------------------------------------------------------------------


def test_x_accel_mode_hands_the_bytes_to_nginx(
    settings, asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    settings.WEBSEED_X_ACCEL = True
    settings.WEBSEED_RATE_LIMIT = 1_000_000
    content = publish(
        creator, {"a b/c.mp4": b"video", "d.txt": b"d"}, name="show", access=Content.Access.PAID
    )
    ledger.grant(fan, content, Grant.Source.STAFF)

    response = httpx.get(file_url(asgi_server.url, fan, content, "show/a%20b/c.mp4"))
    refused = httpx.get(f"{asgi_server.url}/webseed/{content.pk}/open/show/a%20b/c.mp4")

    assert response.status_code == 200
    assert response.content == b""
    assert (
        response.headers["x-accel-redirect"] == f"/_protected/content/{content.pk}/show/a%20b/c.mp4"
    )
    assert response.headers["x-accel-limit-rate"] == "1000000"
    assert response.headers["content-type"] == "video/mp4"
    assert_refused(refused, 403)
    assert "x-accel-redirect" not in refused.headers


@pytest.fixture
def nginx_front(asgi_server: AsgiServer, settings, tmp_path: Path) -> Iterator[str]:
    """deploy/nginx-local.conf in front of the live server, as in production."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        pytest.skip("nginx is not installed")
    bench = load_module(BASE_DIR / "bench" / "webseed.py")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = free_port()
    config = prefix / "nginx.conf"
    config.write_text(
        bench.render_nginx_config(
            prefix=str(prefix),
            listen=f"127.0.0.1:{port}",
            upstream=f"127.0.0.1:{asgi_server.port}",
            content_root=f"{settings.CONTENT_ROOT}/",
            static_root=f"{settings.STATIC_ROOT}/",
            user="root" if os.geteuid() == 0 else "nobody",
        )
    )
    log = open(prefix / "stderr.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(config), "-e", "stderr"], stdout=log, stderr=log
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), what="nginx to start")
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(20)
        log.close()


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _answers(url: str) -> bool:
    try:
        # A web-seed URL answers at once (/healthz would wait on every probe it runs).
        httpx.get(url + "/webseed/0/open/probe", timeout=5)
    except httpx.TransportError:
        return False
    return True


def test_through_nginx_with_x_accel(
    settings, nginx_front: str, creator: Creator, fan: User, stranger: User
) -> None:
    settings.WEBSEED_X_ACCEL = True
    content = publish(
        creator, {"a b/c.bin": DATA, "d.bin": b"d"}, name="set", access=Content.Access.PAID
    )
    ledger.grant(fan, content, Grant.Source.STAFF)
    url = file_url(nginx_front, fan, content, "set/a%20b/c.bin")
    stranger_url = file_url(nginx_front, stranger, content, "set/a%20b/c.bin")

    ranged = httpx.get(url, headers={"Range": "bytes=-10"})
    whole = httpx.get(url)
    head = httpx.head(url)
    bad_range = httpx.get(url, headers={"Range": f"bytes={SIZE}-"})
    refused = httpx.get(stranger_url)

    assert ranged.status_code == 206
    assert ranged.content == DATA[-10:]
    assert ranged.headers["content-range"] == f"bytes {SIZE - 10}-{SIZE - 1}/{SIZE}"
    assert ranged.headers["access-control-allow-origin"] == "*"
    assert "x-accel-redirect" not in ranged.headers
    assert whole.content == DATA
    assert head.headers["content-length"] == str(SIZE)
    assert head.content == b""
    assert bad_range.status_code == 416
    assert bad_range.headers["content-range"] == f"bytes */{SIZE}"
    assert refused.status_code == 403
    assert refused.content == b""


# --- the Django view --------------------------------------------------------------------------


@pytest.fixture
def committed_track(transactional_db: None, creator: Creator) -> Content:
    # Made here, in the test's own thread, rather than through sync_to_async from an async test,
    # which would leave a connection open in asgiref's thread.
    return publish(creator, DATA)


async def test_the_django_view_gives_the_same_replies(committed_track: Content) -> None:
    """Under ASGI the router answers first; the view serves the same where Django is in front."""
    content = committed_track
    client = AsyncClient()
    url = f"/webseed/{content.pk}/open/{content.name}"

    ranged = await client.get(url, headers={"Range": "bytes=10-19"})
    head = await client.head(url)
    bad_range = await client.get(url, headers={"Range": "bytes=20-10"})
    refused = await client.get(f"/webseed/{content.pk}/AAAA/{content.name}")

    assert ranged.status_code == 206
    assert isinstance(ranged, StreamingHttpResponse)
    body = ranged.streaming_content
    assert isinstance(body, AsyncIterator)
    assert b"".join([chunk async for chunk in body]) == DATA[10:20]
    assert ranged["Content-Range"] == f"bytes 10-19/{SIZE}"
    assert ranged["Content-Type"] == "application/octet-stream"
    assert ranged["Access-Control-Allow-Origin"] == "*"
    assert head.status_code == 200
    assert head["Content-Length"] == str(SIZE)
    assert bad_range.status_code == 416
    assert bad_range["Content-Range"] == f"bytes */{SIZE}"
    assert refused.status_code == 403
    assert refused.content == b""


# --- memory -----------------------------------------------------------------------------------


@pytest.fixture
def server_process(transactional_db: None, tmp_path: Path, settings) -> Iterator[tuple[str, int]]:
    """The web process as deployed (uvicorn in its own process), for measuring its memory."""
    port = free_port()
    env = process_environment(CONTENT_ROOT=str(settings.CONTENT_ROOT), WEBSEED_X_ACCEL="false")
    env["WEBSEED_RATE_LIMIT"] = "0"
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "btt_site.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--no-access-log"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or _answers(url), what="uvicorn to start")
        assert process.poll() is None, (tmp_path / "uvicorn.log").read_text()
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def test_a_2_gib_file_keeps_the_server_memory_flat(
    server_process: tuple[str, int], creator: Creator
) -> None:
    # given: a 2 GiB (sparse) file, committed so that the server process sees its row
    url, pid = server_process
    size = 2 * 1024**3
    with transaction.atomic():
        content = publish(creator, b"", name="big.bin")
        ContentFile.objects.filter(content=content).update(size=size)
    with open(tokens.content_dir(content.pk) / "big.bin", "r+b") as f:
        f.truncate(size)
    file_url_ = f"{url}/webseed/{content.pk}/open/big.bin"
    server = psutil.Process(pid)
    assert httpx.get(file_url_, headers={"Range": "bytes=0-1048575"}).status_code == 206
    baseline = server.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()

    # when: the whole file is fetched in one response
    received = 0
    try:
        with httpx.stream("GET", file_url_, timeout=120) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(size)
            for chunk in response.iter_raw(1024 * 1024):
                received += len(chunk)
    finally:
        done.set()
        sampler.join()

    # then: every byte arrived and the server never held more than a few chunks
    assert received == size
    assert peak - baseline < 200 * 1024 * 1024, f"RSS grew by {(peak - baseline) / 2**20:.0f} MiB"
