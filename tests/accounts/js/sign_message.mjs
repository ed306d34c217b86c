// Unmodified TronWeb (npm) signing messages the way TronLink does (`trx.signMessageV2`,
// TIP-191), offline: no node is contacted.
//
// Standard input: {"private_key": "<hex>", "messages": ["...", ...]}
// Answer: {"ok": true, "address": "T...", "signatures": ["0x...", ...],
//          "verified": ["T...", ...]} (TronWeb's own recovery of each signature) or
//         {"ok": false, "error": "..."}.
import { readFileSync } from 'node:fs';
import { TronWeb } from 'tronweb';

try {
    const command = JSON.parse(readFileSync(0, 'utf8'));
    const tronWeb = new TronWeb({ fullHost: 'http://127.0.0.1:9', privateKey: command.private_key });
    const signatures = [];
    const verified = [];
    for (const message of command.messages) {
        const signature = await tronWeb.trx.signMessageV2(message);
        signatures.push(signature);
        verified.push(await tronWeb.trx.verifyMessageV2(message, signature));
    }
    process.stdout.write(JSON.stringify({
        ok: true, address: tronWeb.defaultAddress.base58, signatures, verified,
    }));
} catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error?.stack || error) }));
}
