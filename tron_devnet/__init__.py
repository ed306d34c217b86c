"""A local TRON node for development and tests (``manage.py tron_devnet``).

It speaks the part of java-tron's HTTP API that tronpy and TronWeb use, with blocks, TAPoS,
TRX / TRC-10 / TRC-20 BTT balances, receipts, a faucet and fault injection. Nothing in
production imports it: the platform talks to it over HTTP like any TRON node (an import-linter
contract in pyproject.toml holds this).
"""
