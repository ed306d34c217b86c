"""Browser builds of npm packages served as static files, straight from ``node_modules``.

The JavaScript libraries the pages use come from npm, pinned by ``package-lock.json`` and
installed by ``make setup`` (``npm ci``); none is committed. This finder hands collectstatic
(and WhiteNoise in development) the one browser build of each, under ``vendor/<package>/``,
rather than whole ``dist`` folders full of test bundles and module builds nobody loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, overload

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

# package -> (folder inside the package, the files served from it). Source maps go along: the
# minified files name them, and the hashed-manifest storage refuses a reference it cannot find.
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tus-js-client": ("dist", ("tus.min.js", "tus.min.js.map")),
    "chart.js": ("dist", ("chart.umd.min.js", "chart.umd.min.js.map")),
    "hls.js": ("dist", ("hls.min.js", "hls.min.js.map")),
    # An ES module (export default WebTorrent): the download page imports it on demand.
    # and its service worker, served from the root by swarm.service_worker (a worker's scope).
    "webtorrent": (
        "dist",
        ("webtorrent.min.js", "webtorrent.min.js.map", "sw.min.js", "sw.min.js.map"),
    ),
}
PREFIX = "vendor"


def node_modules() -> Path:
    return Path(settings.BASE_DIR) / "node_modules"


class PrefixedStorage(FileSystemStorage):
    # collectstatic and WhiteNoise put a storage's files below its ``prefix``.
    prefix: str


class NpmPackageFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.storages: dict[str, tuple[PrefixedStorage, tuple[str, ...]]] = {}
        for package, (folder, files) in PACKAGES.items():
            storage = PrefixedStorage(location=node_modules() / package / folder)
            storage.prefix = f"{PREFIX}/{package}"
            self.storages[package] = (storage, files)

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        missing = [
            f"{package}/{folder}/{name}"
            for package, (folder, files) in PACKAGES.items()
            for name in files
            if not (node_modules() / package / folder / name).is_file()
        ]
        if not missing:
            return []
        return [
            Error(
                f"npm packages are missing from node_modules: {', '.join(missing)}.",
                hint="Run `make setup` (npm ci): the pages load these scripts.",
                id="btt_platform.E101",
            )
        ]

    @overload
    def find(self, path: str, find_all: Literal[False] = False) -> str | None: ...
    @overload
    def find(self, path: str, find_all: Literal[True]) -> list[str]: ...
    def find(self, path: str, find_all: bool = False) -> Any:
        # "Not found" is [] for Django's own finders whatever find_all says (its stubs say None,
        # but finders.find() would then list that None as a match).
        found: list[str] = []
        for storage, files in self.storages.values():
            name = path.removeprefix(f"{storage.prefix}/")
            if name != path and name in files and storage.exists(name):
                found.append(storage.path(name))
        if find_all:
            return found
        return found[0] if found else []

    def list(
        self, ignore_patterns: Iterable[str] | None
    ) -> Iterator[tuple[str, FileSystemStorage]]:
        for storage, files in self.storages.values():
            for name in files:
                if storage.exists(name):
                    yield name, storage
