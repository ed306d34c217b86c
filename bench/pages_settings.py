"""The production settings with one URL in front of the site's: the bench's floor view
(``bench.pages_urls``)."""

from btt_platform.settings import *  # noqa: F403

ROOT_URLCONF = "bench.pages_urls"
