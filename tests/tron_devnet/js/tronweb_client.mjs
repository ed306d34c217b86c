// Unmodified TronWeb (npm) against a TRON node: one command in, one JSON answer out.
//
// The command is a JSON object, given as the first argument or on standard input:
//   {"node": "http://127.0.0.1:8090", "private_key": "<hex>", "action": "...", ...}
// Actions:
//   send_trx      {to, amount, memo?}                     TransferContract
//   send_trc10    {to, amount, token_id, memo?}           TransferAssetContract
//   send_trc20    {contract, to, amount, memo?, fee_limit} triggerSmartContract transfer(address,uint256)
//   contract_send {contract, to, amount, fee_limit}       contract().at() then .transfer().send()
//   send_trx_hex  {to, amount}                            the TRX transfer through broadcastHex
//   receipt       {txid}                                  transaction and receipt, head and solidified
//   balances      {address, contract?, token_id?}         TRX, TRC-10 and TRC-20 balances
//   reads         {address, contract, block}              blocks, resources, energy estimate
// The answer: {"ok": true, ...} or {"ok": false, "error": "..."}; "calls" lists the node
// endpoints TronWeb used, in order. Amounts are strings: TRC-20 base units pass 2**53.
import { readFileSync } from 'node:fs';
import { TronWeb, Trx, utils } from 'tronweb';

const command = JSON.parse(process.argv[2] ?? readFileSync(0, 'utf8'));
const tronWeb = new TronWeb({ fullHost: command.node, privateKey: command.private_key || undefined });

const calls = [];
for (const name of ['fullNode', 'solidityNode']) {
    const provider = tronWeb[name];
    const request = provider.request.bind(provider);
    provider.request = (url, payload = {}, method = 'get') => {
        calls.push(`${method.toUpperCase()} /${url.replace(/^\//, '')}`);
        return request(url, payload, method);
    };
}

const owner = () => tronWeb.defaultAddress.base58;

// TronWeb's own local checks run inside these calls: addUpdateData re-derives the node's
// getsignweight answer, sign() re-serialises raw_data and compares raw_data_hex and txID.
async function signAndSend(transaction, memo) {
    let built = transaction;
    if (memo) {
        built = await tronWeb.transactionBuilder.addUpdateData(built, memo, 'utf8');
    }
    const signed = await tronWeb.trx.sign(built);
    const broadcast = await tronWeb.trx.sendRawTransaction(signed);
    const { transaction: _sent, ...answer } = broadcast;
    return { txid: signed.txID, broadcast: answer, transaction: signed };
}

// The node's copy of a transaction, checked the way TronWeb checks one before use: it must
// re-encode to its raw_data_hex and txID, and its signature must recover the owner.
function checked(transaction) {
    const local = utils.transaction.txJsonToPb(transaction);
    return {
        raw_data_hex_matches: utils.transaction.txCheck(transaction),
        local_raw_data_hex: utils.transaction.txPbToRawDataHex(local).toLowerCase(),
        local_txid: utils.transaction.txPbToTxID(local).replace(/^0x/, ''),
        signer: Trx.ecRecover(transaction),
    };
}

const actions = {
    async send_trx({ to, amount, memo }) {
        const transaction = await tronWeb.transactionBuilder.sendTrx(to, Number(amount), owner());
        return signAndSend(transaction, memo);
    },

    async send_trc10({ to, amount, token_id, memo }) {
        const transaction = await tronWeb.transactionBuilder.sendToken(to, Number(amount), String(token_id), owner());
        return signAndSend(transaction, memo);
    },

    async send_trc20({ contract, to, amount, memo, fee_limit }) {
        const wrapper = await tronWeb.transactionBuilder.triggerSmartContract(
            contract,
            'transfer(address,uint256)',
            { feeLimit: fee_limit ?? 100_000_000 },
            [
                { type: 'address', value: to },
                { type: 'uint256', value: String(amount) },
            ],
            owner()
        );
        return signAndSend(wrapper.transaction, memo);
    },

    // The same TRX transfer, broadcast as a whole protobuf Transaction in hex (broadcastHex).
    async send_trx_hex({ to, amount }) {
        const transaction = await tronWeb.transactionBuilder.sendTrx(to, Number(amount), owner());
        const signed = await tronWeb.trx.sign(transaction);
        const message = utils.transaction.txJsonToPb(signed);
        for (const signature of signed.signature) {
            message.addSignature(Uint8Array.from(Buffer.from(signature, 'hex')));
        }
        const hex = Buffer.from(message.serializeBinary()).toString('hex');
        const { transaction: parsed, ...answer } = await tronWeb.trx.broadcastHex(hex);
        return { txid: signed.txID, broadcast: answer, transaction: signed, parsed };
    },

    async contract_send({ contract, to, amount, fee_limit }) {
        const token = await tronWeb.contract().at(contract);
        const txid = await token.transfer(to, String(amount)).send({ feeLimit: fee_limit ?? 100_000_000 });
        return { txid };
    },

    async receipt({ txid }) {
        const answer = {};
        for (const [key, read] of [
            ['transaction', () => tronWeb.trx.getTransaction(txid)],
            ['confirmed_transaction', () => tronWeb.trx.getConfirmedTransaction(txid)],
        ]) {
            try {
                const transaction = await read();
                answer[key] = transaction;
                answer[`${key}_check`] = checked(transaction);
            } catch {
                answer[key] = null; // TronWeb throws "Transaction not found" on {}
            }
        }
        answer.info = await tronWeb.trx.getUnconfirmedTransactionInfo(txid);
        answer.confirmed_info = await tronWeb.trx.getTransactionInfo(txid);
        return answer;
    },

    // What wallets and chain scanners read besides receipts: blocks, resources, estimates.
    async reads({ address, contract, block }) {
        if (!command.private_key) tronWeb.setAddress(address);
        const byNumber = await tronWeb.trx.getBlockByNumber(block);
        const range = await tronWeb.trx.getBlockRange(block, block + 2);
        const token = await tronWeb.contract().at(contract);
        const transfer = [
            { type: 'address', value: address },
            { type: 'uint256', value: '1' },
        ];
        return {
            head: (await tronWeb.trx.getCurrentBlock()).block_header.raw_data.number,
            confirmed_head: (await tronWeb.trx.getConfirmedCurrentBlock()).block_header.raw_data.number ?? 0,
            block_id: byNumber.blockID,
            by_hash: (await tronWeb.trx.getBlockByHash(byNumber.blockID)).block_header.raw_data.number,
            range: range.map((entry) => entry.block_header.raw_data.number),
            transaction_count: await tronWeb.trx.getBlockTransactionCount(block),
            bandwidth: await tronWeb.trx.getBandwidth(address),
            resources: await tronWeb.trx.getAccountResources(address),
            energy: await tronWeb.transactionBuilder.estimateEnergy(
                contract, 'transfer(address,uint256)', {}, transfer, address
            ),
            contract_name: (await tronWeb.trx.getContractInfo(contract)).smart_contract.name,
            symbol: await token.symbol().call(),
            token: await tronWeb.trx.getTokenByID('1002000'),
            energy_prices: await tronWeb.trx.getEnergyPrices(),
            bandwidth_prices: await tronWeb.trx.getBandwidthPrices(),
        };
    },

    async balances({ address, contract, token_id }) {
        // A read-only page has no key: contract calls need an owner address all the same.
        if (!command.private_key) tronWeb.setAddress(address);
        const answer = {
            trx: String(await tronWeb.trx.getUnconfirmedBalance(address)),
            confirmed_trx: String(await tronWeb.trx.getBalance(address)),
        };
        if (token_id) {
            const assets = (await tronWeb.trx.getUnconfirmedAccount(address)).assetV2 ?? [];
            const held = assets.find((entry) => entry.key === String(token_id));
            answer.trc10 = String(held ? held.value : 0);
        }
        if (contract) {
            const token = await tronWeb.contract().at(contract);
            answer.trc20 = String(await token.balanceOf(address).call());
            answer.decimals = Number(await token.decimals().call());
        }
        return answer;
    },
};

function jsonable(key, value) {
    return typeof value === 'bigint' ? value.toString() : value;
}

try {
    const action = actions[command.action];
    if (!action) throw new Error(`unknown action ${command.action}`);
    const answer = await action(command);
    process.stdout.write(JSON.stringify({ ok: true, ...answer, calls }, jsonable));
} catch (error) {
    const message = error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
    process.stdout.write(JSON.stringify({ ok: false, error: message, calls }, jsonable));
    process.exitCode = 1;
}
