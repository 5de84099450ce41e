// The chat lists shared by employees and participants: fetch once, group by tab, render cards.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { chatCard } from '../chat_card.js';
import { emptyState } from '../ui.js';
import { t } from '../i18n.js';

export async function fetchChats(eventId) {
  const { chats } = await api.get(`/chats?event_id=${encodeURIComponent(eventId)}`);
  const byTab = { requested: [], in_scheduling: [], confirmed: [], completed: [], history: [] };
  for (const chat of chats) (byTab[chat.tab] ||= []).push(chat);
  const startOf = (c) => (c.slot ? Date.parse(c.slot.starts_at) : Infinity);
  byTab.confirmed.sort((a, b) => startOf(a) - startOf(b));
  byTab.completed.sort((a, b) => startOf(b) - startOf(a));
  return { chats, byTab };
}

export function chatList(root, chats, ctx, empty) {
  if (!chats.length) {
    replace(root, emptyState(t(empty[0]), t(empty[1])));
    return;
  }
  replace(root, h('div', { class: 'card-list' }, chats.map((chat) => chatCard(chat, ctx))));
}
