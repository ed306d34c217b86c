// Unmodified npm bittorrent-tracker's Client (what WebTorrent announces with) against the
// platform's WebSocket tracker: a started announce, then a scrape, then a stop.
//
// Standard input: {"announce": "ws://.../ws/announce/<passkey>", "info_hash": "<hex>",
//                  "peer_id": "<hex>", "left": <bytes>}
// Answer: {"ok": true, "update": {...} | null, "scrape": {...} | null, "warnings": ["..."]}
//         (the client's own events, as it parsed the tracker's frames) or
//         {"ok": false, "error": "..."}.
import { readFileSync } from 'node:fs';
import Client from 'bittorrent-tracker/client';

const command = JSON.parse(readFileSync(0, 'utf8'));
const answer = { ok: true, update: null, scrape: null, warnings: [] };
const client = new Client({
    infoHash: command.info_hash,
    peerId: command.peer_id,
    announce: [command.announce],
    port: 6881,
    wrtc: {},
    getAnnounceOpts: () => ({ left: command.left }),
});

function settled(event) {
    // The tracker answers each request with one frame: its event, or a warning for a refusal.
    return new Promise((resolve) => {
        const done = (value) => {
            client.removeListener(event, onEvent);
            client.removeListener('warning', onWarning);
            resolve(value);
        };
        const onEvent = (data) => done(data);
        const onWarning = (error) => { answer.warnings.push(String(error.message)); done(null); };
        client.on(event, onEvent);
        client.on('warning', onWarning);
    });
}

try {
    client.on('error', (error) => { answer.ok = false; answer.error = String(error.message); });
    const updated = settled('update');
    client.start({ numwant: 0 });
    answer.update = await updated;
    const scraped = settled('scrape');
    client.scrape();
    answer.scrape = await scraped;
    client.stop();
    await new Promise((resolve) => client.destroy(resolve));
    process.stdout.write(JSON.stringify(answer));
} catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error?.stack || error) }));
}
process.exit(0);
