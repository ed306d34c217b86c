"""Creator webhooks: signed invoice events POSTed to a creator's own endpoint, with retries.

What a receiver gets, per event and webhook (one ``WebhookDelivery``)::

    POST <url>
    Content-Type: application/json
    User-Agent: BTT-Creators-Webhooks/1
    X-BTT-Event: invoice.settled
    X-BTT-Delivery: 6f1c...-uuid            (the same on every retry of this delivery)
    X-BTT-Signature: t=1767225600,v1=5257a869e7...

    {"created_at": "...", "delivery_id": "6f1c...", "event": "invoice.settled",
     "invoice": {"id": "...", "state": "settled", "amount_asked": {"value": "100", ...},
     "amount_due": {"value": "100.000001", "units": "100000001000000000000", "token": "BTT"},
     ...}, "txid": "..."}

``amount_asked`` is the price or tip as set, the one to show a person; ``amount_due`` adds the
unique-amount tag that named the invoice on chain, for reconciling with the transfer.

Verifying it (Stripe's scheme): ``v1`` is the hex HMAC-SHA256, keyed with the webhook's secret,
of ``f"{t}.{body}"`` where ``body`` is the raw request body exactly as received and ``t`` the
Unix time of the attempt. Compare in constant time and refuse a ``t`` more than a few minutes
old, so a captured request cannot be replayed later (``signing.verify_signature`` does both).

Events: ``invoice.created``, ``invoice.processing``, ``invoice.settled``, ``invoice.expired``,
``invoice.invalid``, and ``ping`` on request. Amounts are strings, never JSON numbers. A 2xx
answer delivers; anything else (another status, a redirect, a timeout, a refused connection)
is retried after ``PAYMENTS_WEBHOOK_RETRY_SECONDS`` (default 1 min, 5 min, 30 min, 2 h, 6 h,
12 h, 24 h, 24 h: nine attempts over about three days), then the delivery is ``failed``. Order
is not guaranteed: a receiver reads ``invoice.state`` rather than trusting arrival order.

Isolation: deliveries run on the ``webhooks`` Celery queue, consumed by a worker of their own,
so an endpoint that hangs never holds up uploads, payments or emails. Connecting times out after
``PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS`` (3 s), each write or read after
``PAYMENTS_WEBHOOK_TIMEOUT_SECONDS`` (10 s), the whole attempt after twice that. One attempt is
in flight per endpoint at a time (a lease on the ``Webhook`` row). After
``PAYMENTS_WEBHOOK_BREAKER_FAILURES`` failed attempts in a row the endpoint is *paused*: nothing
is sent to it (deliveries wait, their attempts not spent) until the creator resumes it, or the
cool-down (``PAYMENTS_WEBHOOK_BREAKER_COOLDOWN_SECONDS``) has passed and one trial delivery
succeeds. The retry sweep runs every 5 s and is fair: each
endpoint with due deliveries gets a task of its own, which sends at most
``PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT`` of them.

Safety: each attempt first claims the row with a conditional UPDATE, so two workers never send
the same delivery at once and a delivered one is never sent again. Endpoints must be HTTPS on
public addresses; the address is resolved and checked at registration and again at every
attempt, and the request goes to the checked address (no second lookup an attacker's DNS could
answer differently), without following redirects. ``DEBUG`` or
``PAYMENTS_WEBHOOK_ALLOW_PRIVATE`` lift that for development and tests.

The modules: ``services`` (a creator's webhooks), ``events`` (invoice events queued as
deliveries), ``signing``, ``targets`` (which URLs are safe), ``delivery`` (one attempt, leases,
retries), ``breaker``, ``transport`` (the POST itself), ``sweep`` (the retry sweep), ``errors``,
and ``api`` (``/api/v1/webhooks``).
"""
