// The text chat beside the video: history, sending state until chat_ack, de-duplication by
// client_msg_id and seq, an unread marker, and links that are only ever http(s) anchors.

import { h, replace } from '../dom.js';
import { newId } from '../ids.js';
import { textWithLinks } from './linkify.js';

const MAX_CHARS = 2000;

export class ChatPanel {
  /** send(msg) → boolean (false when the socket is down; the message stays pending). */
  constructor({ myId, names, send, onUnread, timeZone }) {
    this.timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZone: timeZone || undefined });
    this.myId = myId;
    this.names = names; // user_id → display name
    this.send = send;
    this.onUnread = onUnread;
    this.bySeq = new Map();
    this.pending = new Map(); // client_msg_id → {text, el}
    this.shownSeq = 0;
    this.unread = 0;
    this.visible = true;
    this.divider = null;
    this.list = h('ol', { class: 'chat-log', 'aria-live': 'polite', 'aria-label': 'Chat messages' });
    this.empty = h('li', { class: 'chat-empty' }, 'Say hello! Messages are visible to both of you during the chat.');
    this.list.append(this.empty);
    this.errors = h('div', { class: 'chat-errors' });
    this.input = h('textarea', {
      rows: 2, placeholder: 'Type a message…', 'aria-label': 'Message', maxlength: 8000,
      onkeydown: (e) => {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.submit();
        }
      },
    });
    this.root = h('section', { class: 'chat-panel', 'aria-label': 'Chat' },
      h('header', { class: 'chat-head' }, h('h2', {}, 'Chat')),
      this.list,
      this.errors,
      h('form', { class: 'chat-form', onsubmit: (e) => { e.preventDefault(); this.submit(); } },
        this.input,
        h('button', { class: 'btn btn-primary', type: 'submit', dataset: { action: 'send-chat' } }, 'Send')));
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
      replace(this.errors, h('p', { class: 'alert alert-error' }, `A message can be at most ${MAX_CHARS} characters long.`));
      return;
    }
    const clientMsgId = newId();
    const el = this.render({ client_msg_id: clientMsgId, sender_id: this.myId, text, sent_at: null }, 'sending');
    this.pending.set(clientMsgId, { text, el });
    this.input.value = '';
    this.clearDivider();
    this.send({ type: 'chat_send', client_msg_id: clientMsgId, text });
  }

  /** After a reconnect: re-send everything not acknowledged, with the same ids. */
  resendPending() {
    for (const [clientMsgId, { text }] of this.pending) {
      this.send({ type: 'chat_send', client_msg_id: clientMsgId, text });
    }
  }

  applyHistory(entries) {
    for (const entry of entries) this.addMessage(entry);
  }

  onAck({ client_msg_id: clientMsgId, seq, sent_at: sentAt }) {
    const pending = this.pending.get(clientMsgId);
    if (!pending) return;
    this.pending.delete(clientMsgId);
    pending.el.dataset.seq = String(seq);
    this.setStatus(pending.el, 'sent');
    this.fillTime(pending.el, sentAt);
    // A duplicate re-send gets only an ack: the message may already be in the log.
    if (this.bySeq.has(seq) && this.bySeq.get(seq) !== pending.el) pending.el.remove();
    else this.bySeq.set(seq, pending.el);
    this.advance();
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
      this.pending.delete(entry.client_msg_id);
      el = pending.el;
      this.setStatus(el, 'sent');
      this.fillTime(el, entry.sent_at);
    } else if (mine && this.findByClientId(entry.client_msg_id)) {
      el = this.findByClientId(entry.client_msg_id);
    } else {
      el = this.render(entry, 'sent');
    }
    el.dataset.seq = String(entry.seq);
    const gap = entry.seq > this.shownSeq + 1;
    this.bySeq.set(entry.seq, el);
    this.advance();
    if (!mine && !this.visible) this.markUnread(el);
    return gap;
  }

  findByClientId(clientMsgId) {
    return this.list.querySelector(`li[data-client-msg-id="${CSS.escape(clientMsgId)}"]`);
  }

  render(entry, status) {
    this.empty.remove();
    const mine = entry.sender_id === this.myId;
    const el = h('li', { class: `msg ${mine ? 'mine' : 'theirs'}`, dataset: { clientMsgId: entry.client_msg_id, status } },
      mine ? null : h('span', { class: 'msg-author' }, this.names[entry.sender_id] || 'Them'),
      // The text is only ever text nodes and safe anchors; never parsed as HTML.
      h('div', { class: 'bubble' }, textWithLinks(entry.text)),
      h('span', { class: 'msg-meta' }));
    this.fillTime(el, entry.sent_at);
    this.setStatus(el, status);
    // Keep the log in seq order; pending messages stay at the end.
    const seq = entry.seq;
    const next = seq ? [...this.bySeq.entries()].filter(([s]) => s > seq).sort((a, b) => a[0] - b[0])[0] : null;
    if (next && next[1].parentNode === this.list) this.list.insertBefore(el, next[1]);
    else this.list.append(el);
    this.list.scrollTop = this.list.scrollHeight;
    return el;
  }

  fillTime(el, sentAt) {
    if (!sentAt) return;
    el.dataset.time = this.timeFormat.format(new Date(sentAt));
    this.setStatus(el, el.dataset.status);
  }

  setStatus(el, status) {
    el.dataset.status = status;
    const meta = el.querySelector('.msg-meta');
    const time = el.dataset.time || '';
    meta.textContent = status === 'sending' ? 'Sending…' : time;
  }

  markUnread(el) {
    this.unread += 1;
    if (!this.divider) {
      this.divider = h('li', { class: 'unread-divider', role: 'separator' }, 'New messages');
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
