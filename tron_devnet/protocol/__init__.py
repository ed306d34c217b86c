"""TRON's wire protocol as java-tron speaks it: transactions, txIDs, signatures, blocks, JSON.

Transactions are encoded by the protobuf runtime through tronpy's generated ``tron_pb2``
(``contracts``, ``transactions``): the txID is the sha256 of the ``Transaction.raw`` bytes, so
they must be exactly java-tron's, and the generated messages serialise them the same way
(fields in number order, proto3 defaults left out). What ``tron_pb2`` does not declare,
``BlockHeader.raw`` and the ``Transaction.Result`` a node adds after execution, is written by
hand in ``wire`` (used by ``blocks`` and ``transactions``). The encoding is checked against
published mainnet/testnet vectors (tests/tron_devnet/test_protocol.py).

Field numbers and types are those of java-tron's ``protocol/src/main/protos/core/Tron.proto``
and ``core/contract/{balance_contract,transfer_asset_contract,smart_contract}.proto``.
"""
