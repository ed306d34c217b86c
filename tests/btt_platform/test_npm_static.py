"""npm browser builds are static files found in node_modules, never committed copies."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage, staticfiles_storage
from pytest_django.fixtures import Settings

from btt_platform.npm_static import PACKAGES, NpmPackageFinder


def test_each_browser_build_is_found_in_node_modules_and_collected() -> None:
    for package, (folder, files) in PACKAGES.items():
        for name in files:
            # when
            found = finders.find(f"vendor/{package}/{name}")

            # then: the installed package's own file, and a hashed copy in the manifest
            assert found == str(Path("node_modules").resolve() / package / folder / name)
            assert staticfiles_storage.url(f"vendor/{package}/{name}").startswith(
                f"/static/vendor/{package}/"
            )


def test_nothing_else_of_the_packages_is_served() -> None:
    assert finders.find("vendor/tus-js-client/browser-test-bundle.js") is None
    assert finders.find("vendor/chart.js/chart.js") is None
    assert NpmPackageFinder().check() == []


def test_a_missing_install_fails_the_system_check(settings: Settings, tmp_path: Path) -> None:
    # given: a checkout where npm ci has not run
    settings.BASE_DIR = tmp_path

    # when
    errors = NpmPackageFinder().check()

    # then
    assert [error.id for error in errors] == ["btt_platform.E101"]
    assert "tus-js-client/dist/tus.min.js" in errors[0].msg
    assert "npm ci" in (errors[0].hint or "")


def test_a_modules_imports_are_collected_under_their_hashed_names() -> None:
    # The overlay's script imports the alert stream module: both come from one deploy.
    storage = staticfiles_storage
    assert isinstance(storage, ManifestStaticFilesStorage)
    overlay = Path(storage.path(storage.stored_name("js/overlay.js")))
    stream = Path(storage.stored_name("js/alert-stream.js")).name

    assert stream != "alert-stream.js"
    assert f'from "./{stream}";' in overlay.read_text()
