// The text chat beside the video: history, sending state until chat_ack, de-duplication by
// client_msg_id and seq, an unread marker, and links that are only ever http(s) anchors.
// Sends are queued and paced under the server's chat limit, so fast typing never costs the call.

import { h, replace } from '../dom.js';
import { timeOf } from '../format.js';
import { newId } from '../ids.js';
import { t } from '../i18n.js';
import { textWithLinks } from './linkify.js';
import { errorSentence } from './signaling_socket.js';

const MAX_CHARS = 2000;
// The server's chat bucket (docs/protocol.md, "Rate limits"): a burst of 5, then 1 per second.
const CHAT_BURST = 5;
const CHAT_PER_S = 1;
// Kept in hand beyond the token a send costs: a message that travels faster than the one before
// it reaches the server sooner than we sent it, by up to the network's jitter.
const HEADROOM = 0.25;
// After the server refused a send anyway (rate_limited, unavailable): wait, then the same id again.
const RETRY_MS = 1500;
const RETRY_CODES = new Set(['rate_limited', 'unavailable']);

/** A token bucket like the server's, with the headroom above kept back. */
export class ChatPacer {
  constructor(now = () => performance.now()) {
    this.now = now;
    this.tokens = CHAT_BURST;
    this.at = now();
  }

  refill() {
    const at = this.now();
    this.tokens = Math.min(CHAT_BURST, this.tokens + ((at - this.at) / 1000) * CHAT_PER_S);
    this.at = at;
  }

  /** Milliseconds until a send may go (0: now). */
  wait() {
    this.refill();
    const need = 1 + HEADROOM - this.tokens;
    return this.tokens >= CHAT_BURST || need <= 0 ? 0 : Math.ceil((need / CHAT_PER_S) * 1000);
  }

  take() {
    this.refill();
    this.tokens -= 1;
  }

  /** The server says we are over: assume its bucket is empty. */
  drain() {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }
}

export class ChatPanel {
  /**
   * send(msg) → boolean (false when the socket is down; the message stays queued).
   * carry: [{client_msg_id, text}] not yet acknowledged by an earlier call page (Join again).
   */
  constructor({ myId, names, send, onUnread, timeZone, carry = [] }) {
    this.timeZone = timeZone || undefined;
    this.myId = myId;
    this.names = names; // user_id → display name
    this.send = send;
    this.onUnread = onUnread;
    this.bySeq = new Map();
    this.maxSeq = 0;
    // client_msg_id → {text, el}: the outbox, in the order typed. One message at a time is on
    // the wire (`inFlight`): the server's refusal names no id, and the next one must not
    // overtake a refused one.
    this.pending = new Map();
    this.inFlight = null;
    this.online = false;
    this.timer = null;
    this.pacer = new ChatPacer();
    this.shownSeq = 0;
    this.unread = 0;
    this.visible = true;
    this.divider = null;
    this.list = h('ol', { class: 'chat-log', 'aria-label': t('chat.messages') });
    this.empty = h('li', { class: 'chat-empty' }, t('chat.empty'));
    this.list.append(this.empty);
    this.errors = h('div', { class: 'chat-errors' });
    this.input = h('textarea', {
      rows: 2, placeholder: t('chat.placeholder'), 'aria-label': t('chat.message'), maxlength: 8000,
      onkeydown: (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.submit();
        }
      },
    });
    this.root = h('section', { class: 'chat-panel', 'aria-label': t('chat.title') },
      h('header', { class: 'chat-head' }, h('h2', {}, t('chat.title'))),
      this.list,
      this.errors,
      h('form', { class: 'chat-form', onsubmit: (e) => { e.preventDefault(); this.submit(); } },
        this.input,
        h('button', { class: 'btn btn-primary', type: 'submit', dataset: { action: 'send-chat' } }, t('chat.send'))));
    for (const { client_msg_id: clientMsgId, text } of carry) this.queue(clientMsgId, text);
  }

  /** The highest seq we have contiguously (for resume.last_seq). */
  get resumeSeq() {
    return this.shownSeq;
  }

  submit() {
    const text = this.input.value;
    replace(this.errors);
    if (!text.trim()) return;
    if ([...text].length > MAX_CHARS) {
      replace(this.errors, h('p', { class: 'alert alert-error' }, t('chat.too_long', { max: MAX_CHARS })));
      return;
    }
    this.input.value = '';
    this.clearDivider();
    this.queue(newId(), text);
  }

  queue(clientMsgId, text) {
    const el = this.render({ client_msg_id: clientMsgId, sender_id: this.myId, text, sent_at: null }, 'sending');
    this.pending.set(clientMsgId, { text, el });
    this.pump();
  }

  /** Send the oldest queued message when the socket is up, nothing is in flight and the pace allows. */
  pump() {
    if (!this.online || this.inFlight || this.timer || !this.pending.size) return;
    const wait = this.pacer.wait();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, wait);
      return;
    }
    const [clientMsgId, { text }] = this.pending.entries().next().value;
    if (!this.send({ type: 'chat_send', client_msg_id: clientMsgId, text })) return; // down: joined pumps again
    this.pacer.take();
    this.inFlight = clientMsgId;
  }

  /** A socket joined (first or again): what was on the wire is sent again, with its id. */
  setOnline(online) {
    this.online = online;
    this.inFlight = null;
    if (online) this.pump();
  }

  /** The server refused our chat_send: a pause and the same id again, or the reason shown. */
  onSendError({ code, message }) {
    const clientMsgId = this.inFlight;
    this.inFlight = null;
    if (RETRY_CODES.has(code)) {
      this.pacer.drain();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, RETRY_MS);
      return;
    }
    const pending = clientMsgId && this.pending.get(clientMsgId);
    if (pending) {
      this.pending.delete(clientMsgId);
      this.setStatus(pending.el, 'failed');
      replace(this.errors, h('p', { class: 'alert alert-error' }, errorSentence({ code, message })));
    }
    this.pump();
  }

  /** What was typed and not yet acknowledged, for a call page that joins again. */
  unsent() {
    return [...this.pending].map(([clientMsgId, { text }]) => ({ client_msg_id: clientMsgId, text }));
  }

  stop() {
    this.online = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  applyHistory(entries) {
    for (const entry of entries) this.addMessage(entry);
  }

  /** A queued message is stored: take it off the queue and send the next. */
  settled(clientMsgId) {
    this.pending.delete(clientMsgId);
    if (this.inFlight === clientMsgId) this.inFlight = null;
    this.pump();
  }

  onAck({ client_msg_id: clientMsgId, seq, sent_at: sentAt }) {
    const pending = this.pending.get(clientMsgId);
    if (!pending) return;
    this.settled(clientMsgId);
    pending.el.dataset.seq = String(seq);
    this.setStatus(pending.el, 'sent');
    this.fillTime(pending.el, sentAt);
    // A duplicate re-send gets only an ack: the message may already be in the log.
    if (this.bySeq.has(seq) && this.bySeq.get(seq) !== pending.el) {
      pending.el.remove();
    } else {
      this.list.insertBefore(pending.el, this.placeOf(seq));
      this.keep(seq, pending.el);
    }
    this.advance();
  }

  keep(seq, el) {
    this.bySeq.set(seq, el);
    this.maxSeq = Math.max(this.maxSeq, seq);
  }

  /** Move the contiguous high-water mark over every seq we hold. */
  advance() {
    while (this.bySeq.has(this.shownSeq + 1)) this.shownSeq += 1;
  }

  /** Returns true when a gap was seen (caller should resume to fill it). */
  addMessage(entry) {
    if (this.bySeq.has(entry.seq)) return false;
    const mine = entry.sender_id === this.myId;
    const pending = mine ? this.pending.get(entry.client_msg_id) : null;
    let el;
    if (pending) {
      this.settled(entry.client_msg_id);
      el = pending.el;
      this.setStatus(el, 'sent');
      this.fillTime(el, entry.sent_at);
      // Stored before what we still wait for: it goes where its seq belongs.
      this.list.insertBefore(el, this.placeOf(entry.seq));
    } else if (mine && this.findByClientId(entry.client_msg_id)) {
      el = this.findByClientId(entry.client_msg_id);
    } else {
      el = this.render(entry, 'sent');
    }
    el.dataset.seq = String(entry.seq);
    const gap = entry.seq > this.shownSeq + 1;
    this.keep(entry.seq, el);
    this.advance();
    if (!mine && !this.visible) this.markUnread(el);
    return gap;
  }

  findByClientId(clientMsgId) {
    return this.list.querySelector(`li[data-client-msg-id="${CSS.escape(clientMsgId)}"]`);
  }

  /** The log is in seq order with what is still sending at the end: the node a seq goes before. */
  placeOf(seq) {
    if (seq && seq < this.maxSeq) {
      const later = [...this.bySeq.entries()].filter(([s, el]) => s > seq && el.parentNode === this.list).sort((a, b) => a[0] - b[0])[0];
      if (later) return later[1];
    }
    return this.list.querySelector('li.msg[data-status="sending"]');
  }

  render(entry, status) {
    this.empty.remove();
    const mine = entry.sender_id === this.myId;
    // The organizer's answers to a Support request come from "support" (docs/live.md).
    const support = entry.sender_id === 'support';
    const el = h('li', { class: `msg ${mine ? 'mine' : 'theirs'}${support ? ' msg-support' : ''}`, dataset: { clientMsgId: entry.client_msg_id, status, sender: entry.sender_id } },
      mine ? null : h('span', { class: 'msg-author' }, support ? t('call.support') : this.names[entry.sender_id] || t('chat.them')),
      // The text is only ever text nodes and safe anchors; never parsed as HTML.
      h('div', { class: 'bubble' }, textWithLinks(entry.text)),
      h('span', { class: 'msg-meta' }));
    this.fillTime(el, entry.sent_at);
    this.setStatus(el, status);
    this.list.insertBefore(el, status === 'sending' ? null : this.placeOf(entry.seq));
    this.list.scrollTop = this.list.scrollHeight;
    return el;
  }

  fillTime(el, sentAt) {
    if (!sentAt) return;
    el.dataset.time = timeOf(sentAt, this.timeZone);
    this.setStatus(el, el.dataset.status);
  }

  setStatus(el, status) {
    el.dataset.status = status;
    const meta = el.querySelector('.msg-meta');
    const time = el.dataset.time || '';
    meta.textContent = { sending: t('chat.sending'), failed: t('chat.not_sent') }[status] || time;
  }

  markUnread(el) {
    this.unread += 1;
    if (!this.divider) {
      this.divider = h('li', { class: 'unread-divider' }, t('chat.new_messages'));
      this.list.insertBefore(this.divider, el);
    }
    this.onUnread(this.unread);
  }

  clearDivider() {
    if (this.divider) this.divider.remove();
    this.divider = null;
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible && this.unread) {
      this.unread = 0;
      this.onUnread(0);
    }
  }

  messages() {
    return [...this.list.querySelectorAll('li.msg')].map((li) => ({
      text: li.querySelector('.bubble').textContent,
      mine: li.classList.contains('mine'),
      status: li.dataset.status,
      seq: Number(li.dataset.seq || 0),
    }));
  }
}
