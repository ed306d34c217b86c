// Loaded with `node --import`: npm bittorrent-tracker's client imports WebRTC (webrtc-polyfill,
// a native module built from GitHub sources, which `npm ci --ignore-scripts` leaves unbuilt).
// The tracker's announce and scrape need no WebRTC, so the import resolves to an empty stack;
// the client is given `wrtc: {}` and asks for no offers (numwant 0), so none is ever made.
import { register } from 'node:module';

const empty = 'data:text/javascript,export const RTCPeerConnection = undefined, '
    + 'RTCSessionDescription = undefined, RTCIceCandidate = undefined;';
const hooks = `export async function resolve(specifier, context, next) {
    if (specifier === 'webrtc-polyfill') return { url: ${JSON.stringify(empty)}, shortCircuit: true };
    return next(specifier, context);
}`;
register('data:text/javascript,' + encodeURIComponent(hooks));
