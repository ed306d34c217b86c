"""The TRON side of payments: the full node's HTTP API (``node``), proving a transfer from the
node's answers (``verification``), and the chain watcher (``watcher``, built from ``blocks``,
``matching``, ``scanning``, ``applying``, ``settling`` and ``pacing``)."""
