"""The devnet's HTTP API: the part of java-tron's full-node API that tronpy and TronWeb use.

A bare ASGI application (served by uvicorn, like the web process) rather than Django views:
the devnet is a separate process with its own port and its own state file, it must answer the
way a Jetty servlet of java-tron does (HTTP 200 and ``{}`` for "not found", ``{"Error": …}``
for bad input, GET with a query string and POST with JSON on every path), and it needs nothing
from Django's request machinery. Everything runs on the event loop's one thread, so the chain
(SQLite) is never touched concurrently; block production is a task on the same loop.

Paths: ``/wallet/*`` (head state), ``/walletsolidity/*`` (solidified state), and the devnet's
own ``/devnet/faucet``, ``/devnet/mine`` and ``/devnet/fault``. ``app`` routes them to the
handlers in ``node``, ``blocks``, ``transactions``, ``accounts``, ``contracts`` and ``devnet``:
functions of the chain and a ``requests.Request``, returning what is sent back as JSON.
"""
