"""The HTTP web seed (BEP 19): content files over GET/HEAD with byte ranges.

``tokens`` signs the URLs and decides which file a request may fetch, ``ranges`` parses Range
headers, ``serve`` plans each reply and streams its bytes, and ``asgi`` answers: the Django
view and ``WebSeedRouter``, the fast path in front of Django.
"""
