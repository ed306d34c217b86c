"""``kill -9`` of the web process in the middle of a large upload: /healthz (any other web
process's, on the same heartbeats) names it while it is dead; supervisor starts it again; the
browser resumes from the last acknowledged chunk, and the content is hashed once, from exactly
the bytes sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from swarm.models import Content, ContentFile
from tests.faults.work import (
    TUS_CHUNK,
    MiB,
    TusUpload,
    api,
    content,
    new_content,
    new_creator,
    publish,
    random_file,
    sha256_of,
    torrent_of,
)
from tests.fixtures.layout import Deadline, Layout
from tests.fixtures.processes import wait_for

pytestmark = [pytest.mark.processes, pytest.mark.long]

# The size the platform is specified to take in one go. Hashing it takes about a second here
# (SHA-1 runs at over 1 GB/s per core), sending it through the tus endpoint a few seconds.
SIZE = 200 * MiB
# Killed with three chunks acknowledged and the fourth half sent.
KILL_AT = 3 * TUS_CHUNK + TUS_CHUNK // 2


def test_an_upload_cut_by_a_killed_web_process_resumes_and_is_hashed_once(
    layout: Layout, tmp_path: Path
) -> None:
    # given: a creator's browser sending a 200 MiB file in 16 MiB chunks
    creator = new_creator("web-maker")
    client = api(layout, creator.user)
    source = random_file(tmp_path / "concert.mkv", SIZE)
    content_id = new_content(client, "Concert")
    tus = TusUpload(client, content_id, source)
    killed: list[Deadline] = []

    with layout.restarts_held() as held:

        def kill_midway(offset: int) -> None:
            if offset >= KILL_AT and not killed:
                killed.append(held.kill("web"))

        # when: the web process is killed -9 half way through the fourth chunk
        with pytest.raises(httpx.TransportError):
            tus.send(kill_midway)
        (deadline,) = killed

        # then: nothing answers on its port, and /healthz names it
        assert layout.healthz() is None
        wait_for(
            lambda: "web" in layout.healthz_here()[1]["stale"],
            timeout=deadline.left(),
            what="/healthz to name the web process",
        )

    # when: supervisor has started it again, the browser asks where to resume, and does
    wait_for(lambda: layout.healthz() is not None, timeout=deadline.left(), what="web back")
    assert tus.offset() == 3 * TUS_CHUNK  # the chunks acknowledged, not a byte of the fourth
    tus.send()
    publish(client, content_id)
    wait_for(
        lambda: content(content_id).state != Content.State.HASHING,
        timeout=deadline.left(),
        what="the hashing",
    )
    done_after = deadline.elapsed()
    layout.wait_healthy(timeout=deadline.left())

    # then: one file, the very bytes sent, hashed once into their torrent
    seeding = content(content_id)
    assert seeding.state == Content.State.SEEDING, seeding.state_detail
    assert (seeding.hash_attempts, seeding.hash_runner) == (1, "")
    (stored,) = ContentFile.objects.filter(content=seeding)
    on_disk = layout.content_root / str(content_id) / stored.path
    assert stored.size == on_disk.stat().st_size == SIZE
    assert sha256_of(on_disk) == sha256_of(source)
    assert torrent_of(source, bytes(seeding.metainfo or b""))
    print(f"web killed mid-upload: seeding {done_after:.1f} s after the kill")
