"""The torrent builder against libtorrent's own hashing, piece sizes and stored names."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, cast

import libtorrent as lt
import pytest

from swarm.contents import Conflict
from swarm.names import dedupe, place, safe_component, safe_path
from swarm.torrents import TorrentSpec, create_metainfo, piece_length_for

KiB, MiB, GiB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize("threads", [1, 3])
def test_v1_pieces_match_libtorrents_own_hashing(tmp_path: Path, threads: int) -> None:
    # given: a bundle whose pieces run across files, one of them empty
    files = [("b/one.bin", 40_000), ("empty", 0), ("two.bin", 70_001), ("three", 5)]
    for path, size in files:
        (tmp_path / "pack" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pack" / path).write_bytes(os.urandom(size))
    spec = TorrentSpec(name="pack", files=files, piece_length=16 * KiB, private=True)

    # when
    ours = cast(dict[bytes, Any], lt.bdecode(create_metainfo(spec, tmp_path, threads=threads)))
    reference = lt.create_torrent(
        [lt.create_file_entry(f"pack/{p}", s) for p, s in files],
        16 * KiB,
        lt.create_torrent.v1_only,
    )
    reference.set_priv(True)
    lt.set_piece_hashes(reference, str(tmp_path))

    # then: the same info dict, byte for byte
    assert lt.bencode(ours[b"info"]) == lt.bencode(reference.generate()[b"info"])


def test_a_file_of_the_wrong_size_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    spec = TorrentSpec(name="a.bin", files=[("", 11)], piece_length=16 * KiB)

    with pytest.raises(Exception, match=re.escape("'a.bin' has 10 bytes, expected 11")):
        create_metainfo(spec, tmp_path)


@pytest.mark.parametrize(
    ("size", "piece"),
    [(1, 256 * KiB), (100 * MiB, 256 * KiB), (GiB, 512 * KiB), (4 * GiB, 2 * MiB),
     (20 * GiB, 16 * MiB), (200 * GiB, 16 * MiB)],
)  # fmt: skip
def test_piece_length_is_chosen_by_size(size: int, piece: int) -> None:
    assert piece_length_for(size) == piece


@pytest.mark.parametrize(
    ("uploaded", "stored"),
    [("Café Olé.mp3", "Cafe-Ole.mp3"), ("日本語.txt", "file.txt"), (".bashrc", "bashrc"),
     ("con.txt", "con_.txt"), ("a b/../c d.txt", "a-b/c-d.txt"), ("..", "file"),
     ("C:\\Users\\me\\x.zip", "C/Users/me/x.zip")],
)  # fmt: skip
def test_stored_names_are_ascii_safe(uploaded: str, stored: str) -> None:
    assert safe_path(uploaded) == stored


def test_names_are_deduplicated_ignoring_case_and_folders() -> None:
    assert dedupe("Song.MP3", {"song.mp3", "song-2.mp3"}) == "Song-3.MP3"
    assert place("disc 1", ["Disc-1/a.flac"]) == "disc-1-2"
    with pytest.raises(Conflict):
        place("a/b.txt", ["A"])
    assert safe_component("x" * 300 + ".flac") == "x" * 115 + ".flac"  # 120 characters
