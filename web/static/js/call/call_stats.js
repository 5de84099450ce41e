// The `stats` message (docs/protocol.md, "Call quality"): every 10 s the call's figures from
// RTCPeerConnection.getStats(), as deltas over the interval where they are counters.

import { serverSentence, t } from '../i18n.js';

export const STATS_EVERY_MS = 10000;

const round = (x) => Math.max(0, Math.round(x));

/** Reads one sample; `prev` is the state the last call returned (for deltas). */
export async function measureStats(pc, relayMode, prev = {}) {
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId) || pair;
  });
  if (!pair) {
    report.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = pair || s;
    });
  }
  const msg = { type: 'stats', relay_mode: Boolean(relayMode) };
  if (pair) {
    if (typeof pair.currentRoundTripTime === 'number') msg.rtt_ms = round(pair.currentRoundTripTime * 1000);
    const local = byId.get(pair.localCandidateId);
    if (local && ['host', 'srflx', 'prflx', 'relay'].includes(local.candidateType)) {
      msg.pair = local.candidateType;
      const proto = local.candidateType === 'relay' && local.relayProtocol ? local.relayProtocol : local.protocol;
      if (['udp', 'tcp', 'tls'].includes(proto)) msg.transport = proto;
    }
  }
  let received = 0;
  let lost = 0;
  let jitter = null;
  let decoded = 0;
  let dropped = 0;
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    received += s.packetsReceived || 0;
    lost += Math.max(0, s.packetsLost || 0);
    if (typeof s.jitter === 'number') jitter = Math.max(jitter ?? 0, s.jitter);
    if (s.kind === 'video') {
      decoded += s.framesDecoded || 0;
      dropped += s.framesDropped || 0;
      if (s.frameWidth) msg.width = s.frameWidth;
      if (s.frameHeight) msg.height = s.frameHeight;
      if (typeof s.framesPerSecond === 'number') msg.fps = Math.min(240, Math.max(0, s.framesPerSecond));
    }
  });
  const next = { received, lost, decoded, dropped };
  const dReceived = received - (prev.received || 0);
  const dLost = lost - (prev.lost || 0);
  if (dReceived + dLost > 0 && dReceived >= 0 && dLost >= 0) msg.loss = Math.min(1, dLost / (dReceived + dLost));
  if (jitter !== null) msg.jitter_ms = Math.min(60000, round(jitter * 1000));
  if (decoded >= (prev.decoded || 0)) msg.frames_decoded = decoded - (prev.decoded || 0);
  if (dropped >= (prev.dropped || 0)) msg.frames_dropped = dropped - (prev.dropped || 0);
  if (msg.rtt_ms !== undefined) msg.rtt_ms = Math.min(60000, msg.rtt_ms);
  return { msg, state: next };
}

const LABELS = { good: 'quality.verdict.good', fair: 'quality.verdict.fair', poor: 'quality.verdict.poor' };
// The server's sentence (`words`) per verdict, said by the catalogue in another language.
const SENTENCES = { good: 'quality.sentence.good', fair: 'quality.sentence.fair', poor: 'quality.sentence.poor', unknown: 'quality.sentence.unknown' };

/** The connection indicator's word for a verdict ('…' while nothing is measured). */
export function qualityLabel(verdict) {
  return LABELS[verdict] ? t(LABELS[verdict]) : '…';
}

/** The indicator's tooltip sentence: the server's figures in English, the catalogue's otherwise. */
export function qualitySentence(verdict, words) {
  return serverSentence(SENTENCES[verdict], words);
}
