"""The BitTorrent HTTP tracker: announce and scrape with the user's passkey in the path.

``protocol`` parses requests and shapes replies, ``auth`` decides who may announce what
(from the passkeys, contents and decisions ``entitlements`` keeps in Redis),
``peers`` keeps the swarms in Redis, ``transfers`` moves reported bytes into ``TransferTotal``,
and ``asgi`` answers: the Django views and ``TrackerRouter``, the fast path in front of Django.
"""
