"""The web seed counts the bytes it hands out per content (for the creator's swarm panel)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from creators.models import Creator
from swarm.models import Content
from swarm.webseed.serve import bytes_served
from tests.fixtures.content import Site
from tests.fixtures.processes import wait_for

DATA = bytes(range(256)) * 4096  # 1 MiB


def test_every_response_adds_the_bytes_it_sent(
    site: Site, publish: Callable[..., Content], creator: Creator
) -> None:
    # given: a free file and a counter starting at zero
    content = publish(creator, {"track.bin": DATA}, title="Track")
    url = f"{site.url}/webseed/{content.pk}/open/{content.name}"
    before = bytes_served([content.pk])[content.pk]

    # when: a whole GET, a range, two ranges (multipart), a HEAD and a refused range
    whole = httpx.get(url)
    part = httpx.get(url, headers={"Range": "bytes=100-1099"})
    multi = httpx.get(url, headers={"Range": "bytes=0-9,20-29"})
    head = httpx.head(url)
    refused = httpx.get(url, headers={"Range": "bytes=9999999-"})

    # then: file bytes only (not multipart headers), nothing for HEAD or a 416
    assert (whole.status_code, part.status_code, multi.status_code) == (200, 206, 206)
    assert (head.status_code, refused.status_code) == (200, 416)
    # The count lands as each response ends, which a client may see after its last byte.
    expected = before + len(DATA) + 1000 + 20
    wait_for(lambda: bytes_served([content.pk])[content.pk] >= expected, what="count")
    assert bytes_served([content.pk])[content.pk] == expected


@pytest.fixture
def two_contents(
    site: Site, publish: Callable[..., Content], creator: Creator
) -> tuple[Content, Content]:
    return publish(creator, {"a.bin": DATA}, title="A"), publish(
        creator, {"b.bin": DATA}, title="B"
    )


async def test_the_django_view_counts_too_and_contents_are_apart(
    two_contents: tuple[Content, Content],
) -> None:
    first, second = two_contents
    before = bytes_served([first.pk, second.pk])

    response = await AsyncClient().get(
        f"/webseed/{second.pk}/open/{second.name}", headers={"Range": "bytes=0-499"}
    )
    assert isinstance(response, StreamingHttpResponse)
    body = response.streaming_content
    assert isinstance(body, AsyncIterator)
    assert b"".join([chunk async for chunk in body]) == DATA[:500]

    after = bytes_served([first.pk, second.pk])
    assert after[second.pk] - before[second.pk] == 500
    assert after[first.pk] == before[first.pk]
    assert bytes_served([]) == {}
