"""The protobuf encoding of java-tron's Transaction.raw, txIDs and signature recovery."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from tronpy import Tron
from tronpy.keys import PrivateKey
from tronpy.proto import tron_pb2

from tron_devnet.protocol.addresses import address_from_base58
from tron_devnet.protocol.blocks import BlockHeaderRaw
from tron_devnet.protocol.contracts import (
    Contract,
    TransferAssetContract,
    TransferContract,
    TriggerSmartContract,
    type_url,
)
from tron_devnet.protocol.signatures import SignatureError, recover_signer
from tron_devnet.protocol.transaction_json import raw_from_json, raw_to_json, transaction_to_json
from tron_devnet.protocol.transactions import RawTransaction, SignedTransaction

# Published transactions: (where, txID, raw_data in java-tron's visible=false JSON, raw_data_hex).
VECTORS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        # BitGoJS test/unit/coin/trx/mock.ts, UnsignedTransferContractTx (TRX, mainnet format).
        "TRX transfer",
        "ee0bbf72b238361577a9dc41d79f7a74f6ba9efe472c21bfd3e7dc850c9e9020",
        {
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "amount": 10,
                            "owner_address": "41e5e00fc1cdb3921b8340c20b2b65b543c84aa1dd",
                            "to_address": "412c2ba4a9ff6c53207dc5b686bfecf75ea7b80577",
                        },
                        "type_url": "type.googleapis.com/protocol.TransferContract",
                    },
                    "type": "TransferContract",
                }
            ],
            "ref_block_bytes": "5123",
            "ref_block_hash": "52a26dea963a47bc",
            "expiration": 1569463320000,
            "timestamp": 1569463261623,
        },
        "0a025123220852a26dea963a47bc40c0fbb6dad62d5a65080112610a2d747970652e676f6f676c6561"
        "7069732e636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412300a1541e5e00f"
        "c1cdb3921b8340c20b2b65b543c84aa1dd1215412c2ba4a9ff6c53207dc5b686bfecf75ea7b8057718"
        "0a70b7b3b3dad62d",
    ),
    (
        # TRON's TronWeb documentation, triggerConstantContract example (a TRC-20 transfer).
        "TRC-20 transfer",
        "5c280444c82f3050e4b0c672ab98bae264830d80b09db6c861b31699f6bcaaa8",
        {
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "data": "a9059cbb000000000000000000000000d148171f1ceeeb40d668c47d70e7"
                            "e94e679775590000000000000000000000000000000000000000000000000000"
                            "000000000064",
                            "owner_address": "417946f66d0fc67924da0ac9936183ab3b07c81126",
                            "contract_address": "419e62be7f4f103c36507cb2a753418791b1cdc182",
                        },
                        "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                    },
                    "type": "TriggerSmartContract",
                }
            ],
            "ref_block_bytes": "3d8f",
            "ref_block_hash": "316b196f79afe0dc",
            "expiration": 1649655780000,
            "timestamp": 1649655730243,
        },
        "0a023d8f2208316b196f79afe0dc40a0a596b981305aae01081f12a9010a31747970652e676f6f676c"
        "65617069732e636f6d2f70726f746f636f6c2e54726967676572536d617274436f6e74726163741274"
        "0a15417946f66d0fc67924da0ac9936183ab3b07c811261215419e62be7f4f103c36507cb2a7534187"
        "91b1cdc1822244a9059cbb000000000000000000000000d148171f1ceeeb40d668c47d70e7e94e6797"
        "7559000000000000000000000000000000000000000000000000000000000000006470c3a093b98130",
    ),
    (
        # Mainnet TRC-10 BTT (asset 1002000) transfer of March 2019, as TronGrid lists it.
        "TRC-10 BTT transfer",
        "d9206168ee601935bb19de30a613f735972f1ab59178ba05d078ff1ae19c0602",
        {
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "amount": 10149740000,
                            "asset_name": "31303032303030",
                            "owner_address": "410583a68a3bcd86c25ab1bee482bac04a216b0261",
                            "to_address": "4139fec4d95bb59f45a727f9234020adaf2cec9e20",
                        },
                        "type_url": "type.googleapis.com/protocol.TransferAssetContract",
                    },
                    "type": "TransferAssetContract",
                }
            ],
            "ref_block_bytes": "b560",
            "ref_block_hash": "2d9026ee979db6b6",
            "expiration": 1553870955000,
            "timestamp": 1553870897024,
        },
        "0a02b56022082d9026ee979db6b640f8c3b4cf9c2d5a77080212730a32747970652e676f6f676c6561"
        "7069732e636f6d2f70726f746f636f6c2e5472616e736665724173736574436f6e7472616374123d0a"
        "07313030323030301215410583a68a3bcd86c25ab1bee482bac04a216b02611a154139fec4d95bb59f"
        "45a727f9234020adaf2cec9e2020e0fbe2e7257080ffb0cf9c2d",
    ),
    (
        # A wallet adapter's Nile fixtures: TRC-20 transfer with memo "test" and a fee limit.
        "TRC-20 transfer with memo and fee limit",
        "18c5ccb2f4ba3eecff1f3ebeb936dcccebd256b71ca54279655d079965005816",
        {
            "data": "74657374",
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "data": "a9059cbb0000000000000000000000009f2e05d49b5fe66dce55598984aa"
                            "ce7b3dc45fb00000000000000000000000000000000000000000000000000de0"
                            "b6b3a7640000",
                            "owner_address": "4104c0fd0be93576ebd2a8f9776a81d0bfeefb9a07",
                            "contract_address": "4137349aeb75a32f8c4c090daff376cf975f5d2eba",
                        },
                        "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                    },
                    "type": "TriggerSmartContract",
                }
            ],
            "ref_block_bytes": "905c",
            "ref_block_hash": "ec68615e600690cd",
            "expiration": 1707457032000,
            "fee_limit": 1000000000,
            "timestamp": 1707456974460,
        },
        "0a02905c2208ec68615e600690cd40c0defae2d8315204746573745aae01081f12a9010a3174797065"
        "2e676f6f676c65617069732e636f6d2f70726f746f636f6c2e54726967676572536d617274436f6e74"
        "7261637412740a154104c0fd0be93576ebd2a8f9776a81d0bfeefb9a0712154137349aeb75a32f8c4c"
        "090daff376cf975f5d2eba2244a9059cbb0000000000000000000000009f2e05d49b5fe66dce555989"
        "84aace7b3dc45fb00000000000000000000000000000000000000000000000000de0b6b3a764000070"
        "fc9cf7e2d83190018094ebdc03",
    ),
    (
        # The same fixtures: TRC-10 transfer with memo "test".
        "TRC-10 transfer with memo",
        "5ec8e3264fc58105221151a71a41c5cbc981be22fc4b17284167b930a3116b57",
        {
            "data": "74657374",
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "amount": 1000000,
                            "asset_name": "31303030363036",
                            "owner_address": "414feaf7689a60885703cd86a6b8354ab9457bc4cc",
                            "to_address": "419f2e05d49b5fe66dce55598984aace7b3dc45fb0",
                        },
                        "type_url": "type.googleapis.com/protocol.TransferAssetContract",
                    },
                    "type": "TransferAssetContract",
                }
            ],
            "ref_block_bytes": "927f",
            "ref_block_hash": "21bd2d21a085b788",
            "expiration": 1707458682000,
            "timestamp": 1707458622000,
        },
        "0a02927f220821bd2d21a085b7884090b9dfe3d8315204746573745a75080212710a32747970652e67"
        "6f6f676c65617069732e636f6d2f70726f746f636f6c2e5472616e736665724173736574436f6e7472"
        "616374123b0a07313030303630361215414feaf7689a60885703cd86a6b8354ab9457bc4cc1a15419f"
        "2e05d49b5fe66dce55598984aace7b3dc45fb020c0843d70b0e4dbe3d831",
    ),
]


@pytest.mark.parametrize(("what", "txid", "raw_data", "raw_data_hex"), VECTORS)
def test_published_transactions_reproduce_their_txid(
    what: str, txid: str, raw_data: dict[str, Any], raw_data_hex: str
) -> None:
    # when
    raw = raw_from_json(raw_data, visible=False)

    # then
    assert raw.encode().hex() == raw_data_hex
    assert raw.txid.hex() == txid
    assert hashlib.sha256(bytes.fromhex(raw_data_hex)).hexdigest() == txid


@pytest.mark.parametrize(("what", "txid", "raw_data", "raw_data_hex"), VECTORS)
def test_raw_data_hex_parses_back_to_the_same_json(
    what: str, txid: str, raw_data: dict[str, Any], raw_data_hex: str
) -> None:
    raw = RawTransaction.decode(bytes.fromhex(raw_data_hex))

    assert raw_to_json(raw, visible=False) == raw_data
    assert raw.txid.hex() == txid


def test_visible_json_uses_base58_addresses_and_text_asset_names() -> None:
    raw_data_hex = VECTORS[2][3]
    raw = RawTransaction.decode(bytes.fromhex(raw_data_hex))

    value = raw_to_json(raw, visible=True)["contract"][0]["parameter"]["value"]

    assert value["asset_name"] == "1002000"
    assert value["owner_address"] == "TAUN6FwrnwwmaEqYcckffC7wYmbaS6cBiX"
    assert raw_from_json(raw_to_json(raw, visible=True), visible=True) == raw


def test_a_mainnet_signature_recovers_its_owner() -> None:
    # The TRC-10 BTT transfer above as it sits in block history, with its signature.
    _, txid, _, raw_data_hex = VECTORS[2]
    signature = bytes.fromhex(
        "10c57bda2346f4cc7e287a2b696fcd8dcbec273d84df8b8d41fcf49d13e02fdf1ca539d1b631feabd58e"
        "3f0a8c501c8d74595774fd149cfba16770eb8a4bd18100"
    )
    raw = RawTransaction.decode(bytes.fromhex(raw_data_hex))

    assert recover_signer(bytes.fromhex(txid), signature) == raw.owner_address


@pytest.mark.parametrize("v_offset", [0, 27])
def test_signature_recovery_accepts_v_as_tronpy_and_tronweb_write_it(v_offset: int) -> None:
    key = PrivateKey(hashlib.sha256(b"signature recovery").digest())
    txid = hashlib.sha256(b"any raw data").digest()
    signature = bytearray(key.sign_msg_hash(txid).to_bytes())
    signature[64] += v_offset

    assert recover_signer(txid, bytes(signature)) == key.public_key.to_address()


def test_a_signature_over_other_data_recovers_someone_else() -> None:
    key = PrivateKey(hashlib.sha256(b"signer").digest())
    signature = key.sign_msg_hash(hashlib.sha256(b"one").digest()).to_bytes()

    signer = recover_signer(hashlib.sha256(b"two").digest(), signature)

    assert signer != key.public_key.to_address()


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (bytes(64), "Signature size is 64"),
        (bytes(64) + b"\x02", "Header byte out of range: 29"),
        (bytes(64) + b"\x23", "Header byte out of range: 35"),
    ],
)
def test_malformed_signatures_are_refused(signature: bytes, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        recover_signer(bytes(32), signature)


def test_an_unrecoverable_signature_is_refused() -> None:
    with pytest.raises(SignatureError):
        recover_signer(bytes(32), bytes(65))


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "0a02",  # length past the end
        "4090",  # truncated varint
        "4001" + "0a025123",  # fields out of order
        "0800",  # an explicit default value
        "4a00",  # auths (field 9) is not supported
        "0b01",  # reserved wire type
        "5a07" + "0801" + "1200" + "1a0101",  # a contract's provider (field 3) is not supported
        "5a04" + "0803" + "1200",  # a contract type the devnet does not run
        "5a08" + "0801" + "1204" + "12020801",  # a TransferContract address sent as a varint
    ],
)
def test_non_canonical_or_unsupported_raw_data_is_refused(hex_bytes: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the parser's messages vary by case)
        RawTransaction.decode(bytes.fromhex(hex_bytes))


@pytest.mark.parametrize("permission_id", [2**31, -(2**31) - 1])
def test_a_permission_id_past_int32_is_refused(permission_id: int) -> None:
    # Transaction.Contract.Permission_id is an int32 in Tron.proto.
    raw_data = {**VECTORS[0][2]}
    raw_data["contract"] = [{**raw_data["contract"][0], "Permission_id": permission_id}]

    with pytest.raises(ValueError, match="Permission_id: out of int32 range"):
        raw_from_json(raw_data, visible=False)


def test_block_ids_carry_the_number_in_their_first_eight_bytes() -> None:
    header = BlockHeaderRaw(
        timestamp=1_700_000_000_000,
        tx_trie_root=bytes(32),
        parent_hash=bytes(32),
        number=258,
        witness_address=address_from_base58("TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"),
        version=30,
    )

    assert header.block_id[:8] == (258).to_bytes(8, "big")
    assert header.block_id[8:] == hashlib.sha256(header.encode()).digest()[8:]


# --- against the protobuf runtime ------------------------------------------------------------

ALICE = PrivateKey(hashlib.sha256(b"alice").digest()).public_key.to_base58check_address()
BOB = PrivateKey(hashlib.sha256(b"bob").digest()).public_key.to_base58check_address()
BTT = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"
REF_BLOCK_ID = "0000000003c2e7a4" + "5b8f2a0d3c4e6f71" + "00" * 16


def test_tronpy_offline_trx_transfer_has_our_txid() -> None:
    # tronpy computes this txID with its generated protobuf classes (no node involved).
    client = Tron(network="nile")
    builder = client.trx.transfer(ALICE, BOB, 1_234_567)

    transaction = builder.build(offline=True, ref_block_id=REF_BLOCK_ID)

    ours = raw_from_json(transaction.to_json()["raw_data"], visible=False)
    assert ours.txid.hex() == transaction.txid


def test_tronpy_offline_trc20_transfer_has_our_txid() -> None:
    from tronpy.contract import Contract as TronpyContract

    client = Tron(network="nile")
    contract = TronpyContract(
        addr=BTT,
        abi=[
            {
                "name": "transfer",
                "type": "Function",
                "stateMutability": "Nonpayable",
                "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
                "outputs": [{"type": "bool"}],
            }
        ],
        client=client,
    )
    builder = contract.functions.transfer(BOB, 10**18 * 5).with_owner(ALICE).fee_limit(30_000_000)

    transaction = builder.build(offline=True, ref_block_id=REF_BLOCK_ID)

    ours = raw_from_json(transaction.to_json()["raw_data"], visible=False)
    assert ours.txid.hex() == transaction.txid


def _protobuf_runtime_bytes(raw: RawTransaction) -> bytes:
    parsed = tron_pb2.Transaction.raw.FromString(raw.encode())
    data: bytes = parsed.SerializeToString(deterministic=True)
    return data


@pytest.mark.parametrize(
    "parameter",
    [
        TransferContract(address_from_base58(ALICE), address_from_base58(BOB), 1),
        TransferAssetContract(
            b"1002000", address_from_base58(ALICE), address_from_base58(BOB), 2**62
        ),
        TriggerSmartContract(
            address_from_base58(ALICE), address_from_base58(BTT), bytes.fromhex("a9059cbb") * 3
        ),
    ],
)
def test_the_protobuf_runtime_serialises_our_messages_identically(parameter: Any) -> None:
    raw = RawTransaction(
        contracts=(Contract(parameter, type_url(parameter.TYPE)),),
        ref_block_bytes=bytes.fromhex("e7a4"),
        ref_block_hash=bytes.fromhex("5b8f2a0d3c4e6f71"),
        expiration=1_800_000_060_000,
        data="memo — with UTF-8".encode(),
        timestamp=1_800_000_000_000,
        fee_limit=150_000_000,
    )

    assert _protobuf_runtime_bytes(raw) == raw.encode()


def test_signed_transaction_json_has_java_tron_keys() -> None:
    _, txid, raw_data, raw_data_hex = VECTORS[0]
    signed = SignedTransaction(
        raw_from_json(raw_data, visible=False), (bytes(65),), contract_ret="SUCCESS"
    )

    out = transaction_to_json(signed, visible=False)

    assert out == {
        "visible": False,
        "txID": txid,
        "raw_data": raw_data,
        "raw_data_hex": raw_data_hex,
        "signature": ["00" * 65],
        "ret": [{"contractRet": "SUCCESS"}],
    }
