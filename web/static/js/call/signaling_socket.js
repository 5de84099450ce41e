// The signaling WebSocket of one chat: a fresh ticket for every socket, the join message,
// heartbeat pings, and reconnects with backoff per docs/protocol.md section 7.

import { api } from '../api.js';
import { syncServerClock } from '../server_clock.js';
import { serverSentence, t } from '../i18n.js';

const SUBPROTOCOL = 'duet.v1.json';
const PING_EVERY_MS = 20_000;
const PONG_WITHIN_MS = 10_000;
// Close codes after which the client must not reconnect by itself. 1000 is not among them: the
// server closes with 1000 only after our own `leave` (and then we have stopped already); a 1000
// we did not ask for is a socket closed under us (e.g. by the browser), so we resume.
const FINAL = new Set([1003, 1008, 1009, 4005, 4006, 4007, 4008, 4009, 4010, 4012]);
const TICKET = new Set([4001, 4002, 4003]);
// The sentences of the final close codes (signaling/close_codes.py REASONS, in the catalogue).
const REASONS = {
  1000: 'close.1000',
  1003: 'close.1003',
  1008: 'close.1008',
  1009: 'close.1009',
  4005: 'close.4005',
  4006: 'close.4006',
  4007: 'close.4007',
  4008: 'close.4008',
  4009: 'close.4009',
  4010: 'close.4010',
  4012: 'close.4012',
};

/** A close's sentence: the server's reason, or ours for its code in the reader's language. */
export function closeSentence(code, reason) {
  return serverSentence(REASONS[code], reason) || t('close.unknown');
}

// Refusals the server explains in English; ours in the reader's language (signaling/codec.py).
const ERROR_KEYS = {
  rate_limited: 'signal.error.rate_limited',
  bad_length: 'signal.error.bad_length',
  unavailable: 'signal.error.unavailable',
  not_supported: 'signal.error.not_supported',
};

/** A refusal's sentence: ours for a code we know, in a language other than the server's. */
export function errorSentence(msg) {
  return serverSentence(ERROR_KEYS[msg.code], msg.message);
}

export function backoffDelay(attempt) {
  const base = Math.min(10_000, 500 * 2 ** attempt);
  return Math.min(10_000, base * (0.5 + Math.random()));
}

export class SignalingSocket {
  /**
   * onMessage(msg), onStatus('connecting'|'open'|'reconnecting'|'closed'),
   * onFatal(sentence, {code, status}): the close code, or the join endpoint's HTTP status,
   * getResume() → {last_seq, media_kept} | null, onGrant(joinResponse)
   */
  constructor({ chatId, onMessage, onStatus, onFatal, getResume, onGrant, onClose }) {
    Object.assign(this, { chatId, onMessage, onStatus, onFatal, getResume, onGrant, onClose });
    this.ws = null;
    this.attempt = 0;
    this.ticketRetries = 0;
    this.stopped = false;
    this.timers = new Set();
    this.lastHeard = 0;
    this.joinedOnce = false;
  }

  start() {
    this.connect();
  }

  later(ms, fn) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
  }

  async connect() {
    if (this.stopped) return;
    this.onStatus(this.joinedOnce ? 'reconnecting' : 'connecting');
    let grant;
    try {
      grant = await api.post(`/chats/${this.chatId}/join`);
    } catch (err) {
      if (err.status === 0 || err.status >= 500) {
        this.retry();
      } else {
        this.stop();
        this.onFatal(err.message, { code: null, status: err.status });
      }
      return;
    }
    if (this.stopped) return;
    syncServerClock(grant.server_time);
    this.onGrant(grant);
    const ws = new WebSocket(grant.ws_url, [SUBPROTOCOL]);
    this.ws = ws;
    ws.onopen = () => {
      const join = { type: 'join', v: 1, ticket: grant.ticket };
      const resume = this.getResume(this.joinedOnce);
      if (resume) join.resume = resume;
      ws.send(JSON.stringify(join));
      this.heard();
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.heard();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg.type === 'joined') {
        this.attempt = 0;
        this.ticketRetries = 0;
        this.joinedOnce = true;
        this.onStatus('open');
        this.startHeartbeat(ws);
      }
      if (msg.type === 'room_closing' || msg.type === 'replaced') this.finalMessage = msg;
      this.onMessage(msg);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.closed(event.code, event.reason);
    };
  }

  heard() {
    this.lastHeard = performance.now();
  }

  startHeartbeat(ws) {
    const beat = () => {
      if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
      this.send({ type: 'ping', ts: Date.now() });
      const sentAt = performance.now();
      this.later(PONG_WITHIN_MS, () => {
        if (ws === this.ws && this.lastHeard < sentAt) this.drop();
      });
      this.later(PING_EVERY_MS, beat);
    };
    this.later(PING_EVERY_MS, beat);
  }

  /** Give up on the current socket (dead, or a chat gap to fill) and resume on a new one. */
  drop() {
    if (this.onClose) this.onClose('dropped', 'no answer or a gap');
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try {
        ws.close(4000, 'reconnecting');
      } catch {
        // already closed
      }
    }
    this.retry(true);
  }

  closed(code, reason) {
    this.ws = null;
    if (this.onClose) this.onClose(code, reason);
    if (this.stopped) return;
    if (this.finalMessage) {
      this.stop();
      this.onStatus('closed');
      return;
    }
    if (FINAL.has(code)) {
      this.stop();
      this.onFatal(closeSentence(code, reason), { code, status: null });
      return;
    }
    if (TICKET.has(code)) {
      if (this.ticketRetries >= 1) {
        this.stop();
        this.onFatal(serverSentence('close.ticket', reason), { code, status: null });
        return;
      }
      this.ticketRetries += 1;
      this.retry(true);
      return;
    }
    this.retry();
  }

  retry(immediate = false) {
    if (this.stopped) return;
    this.onStatus('reconnecting');
    const delay = immediate ? 0 : backoffDelay(this.attempt);
    this.attempt += 1;
    this.later(delay, () => this.connect());
  }

  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Hang up on purpose: `leave`, and no reconnect. */
  leave() {
    this.send({ type: 'leave' });
    this.stop();
  }

  stop() {
    this.stopped = true;
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      // Give `leave` a moment to go out; the server closes with 1000 after it.
      setTimeout(() => ws.close(1000), 1000);
    }
  }
}
