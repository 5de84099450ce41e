// The Join button of a confirmed chat: disabled with a live countdown until the window opens
// (counted on the server's clock), enabled inside the window, gone once it has closed.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { serverNow } from './server_clock.js';
import { timeOf, waitInWords } from './format.js';
import { serverSentence, t } from './i18n.js';

const RECHECK_MS = 5000;
// The join window's reason (scheduling/join_window.py) → our sentence, for a reader of another
// language than the server's English.
const REASON_KEYS = {
  ended: 'join.reason.ended',
  cancelled: 'join.reason.cancelled',
  not_confirmed: 'join.reason.not_confirmed',
};

/** Why a chat cannot be joined, in the reader's language when we know the reason. */
export function joinWindowSentence(window_) {
  return serverSentence(REASON_KEYS[window_ && window_.reason], window_ && window_.message);
}

export function joinControl(chat, { scope, timeZone, onUpdate, onJoin, label } = {}) {
  const joinLabel = label || t('join.join');
  if (chat.state !== 'confirmed' || !chat.join || !chat.join.join_opens_at) return null;
  const button = h(
    'button',
    {
      class: 'btn btn-join',
      type: 'button',
      disabled: true,
      dataset: { action: 'join', chatId: chat.id },
      onclick: () => {
        if (onJoin) onJoin(button);
        else location.hash = `#/chat/${chat.id}`;
      },
    },
    joinLabel,
  );
  const hint = h('span', { class: 'join-hint', 'aria-live': 'polite' });
  const root = h('div', { class: 'join-control' }, button, hint);
  // The hint is a live region redrawn every second: only a new sentence is worth announcing.
  const setHint = (text) => {
    if (hint.textContent !== text) hint.textContent = text;
  };
  let window_ = chat.join;
  let lastCheck = 0;
  let checking = false;

  async function askServer() {
    if (checking || performance.now() - lastCheck < RECHECK_MS) return;
    checking = true;
    lastCheck = performance.now();
    try {
      const fresh = await api.get(`/chats/${chat.id}`);
      window_ = fresh.join;
      if (fresh.state !== chat.state && onUpdate) onUpdate(fresh);
    } catch {
      // keep counting; the next tick asks again
    } finally {
      checking = false;
      render();
    }
  }

  function render() {
    if (root.dataset.joinState === 'ended') return false;
    const now = serverNow();
    const opens = Date.parse(window_.join_opens_at);
    const closes = Date.parse(window_.join_closes_at);
    if (now >= closes || window_.reason === 'ended' || window_.reason === 'cancelled') {
      root.dataset.joinState = 'ended';
      replace(root, h('span', { class: 'join-hint' }, joinWindowSentence(window_) || t('join.reason.ended')));
      return false;
    }
    if (window_.open) {
      root.dataset.joinState = 'open';
      if (!button.classList.contains('is-busy')) button.disabled = false;
      if (!button.classList.contains('is-busy')) button.textContent = joinLabel;
      setHint(t('join.open_until', { time: timeOf(window_.join_closes_at, timeZone) }));
      return true;
    }
    root.dataset.joinState = 'waiting';
    button.disabled = true;
    const seconds = Math.ceil((opens - now) / 1000);
    if (seconds > 0) {
      button.textContent = t('join.join_in', { wait: waitInWords(seconds) });
      setHint(t('join.opens_at', { time: timeOf(window_.join_opens_at, timeZone) }));
    } else {
      // Our estimate says open; the server decides.
      button.textContent = t('join.opening');
      setHint('');
      askServer();
    }
    return true;
  }

  if (render() && scope) scope.every(1000, render);
  return root;
}
