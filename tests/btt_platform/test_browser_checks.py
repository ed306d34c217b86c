"""The browser fixture's own checks: a console error is caught unless the test allows it, and
the axe audit finds a violation that is there."""

from __future__ import annotations

import pytest

from tests.fixtures.accessibility import audit
from tests.fixtures.browser import Chromium
from tests.fixtures.servers import AsgiServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_console_error_is_counted_and_an_allowed_one_is_not(
    browser: Chromium, asgi_server: AsgiServer
) -> None:
    # given: the login page, on which something logs two errors
    page = browser.open(asgi_server.url)
    page.goto("/accounts/login/")
    page.evaluate("() => { console.error('first broken thing'); console.error('expected one'); }")

    # when: the test allows one of them
    browser.allow_console_error(r"expected one", "the error this test provokes")

    # then: the other is still reported, with the page it happened on
    errors = browser.console_errors()
    assert len(errors) == 1
    assert errors[0].startswith(f"{asgi_server.url}/accounts/login/: console: first broken thing")
    # and the test passes its teardown only once that one is allowed too
    browser.allow_console_error(r"first broken thing", "the error this test provokes")
    assert browser.console_errors() == []


def test_the_audit_names_a_picture_without_a_text_and_an_unnamed_button(
    browser: Chromium, asgi_server: AsgiServer
) -> None:
    # given: a page with an image without alt text and a button with no name
    page = browser.open(asgi_server.url)
    page.goto("/accounts/login/")
    page.evaluate(
        """() => {
            const picture = document.createElement("img");
            picture.id = "bare-picture";
            document.querySelector("main").append(picture);
            const button = document.createElement("button");
            button.id = "bare-button";
            document.querySelector("main").append(button);
        }"""
    )

    # when
    found = {violation["id"]: violation["targets"] for violation in audit(page)}

    # then
    assert found == {"image-alt": ["#bare-picture"], "button-name": ["#bare-button"]}
