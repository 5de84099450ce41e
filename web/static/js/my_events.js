// The signed-in person's own event stream (GET /api/v1/me/events, docs/live.md): when one of
// their chats changes (a request, an approval, a booking, a cancel), a toast says so, the topbar
// badge counts it, and an open list of chats is drawn again with fresh data: no reload. What
// the person did themselves is not sent (the page they did it on shows it already).

import { h } from './dom.js';
import { Scope } from './scope.js';
import { openEventStream } from './sse.js';
import { toast } from './ui.js';

const SAID = {
  requested: (who) => `New chat request with ${who}.`,
  approved: (who) => `${who} approved the chat: pick a time.`,
  declined: (who) => `${who} declined the chat request.`,
  withdrawn: (who) => `${who} withdrew the chat request.`,
  confirmed: (who) => `Your chat with ${who} is booked.`,
  cancelled: (who) => `${who} cancelled your chat.`,
};
let scope = null;
let userId = null;
let unseen = 0;
const badge = h('a', { class: 'events-badge', id: 'events-badge', href: '#', hidden: true, title: 'Updates since you last looked', 'aria-live': 'polite',
  onclick: (e) => { e.preventDefault(); seen(); } });

/** The badge element for the topbar. */
export function eventsBadge() {
  return badge;
}

export function seen() {
  unseen = 0;
  badge.hidden = true;
  badge.textContent = '';
}

/** Open the person's stream (once per signed-in person); onChange(news) redraws the view. */
export function startMyEvents(user, onChange) {
  if (userId === user.id && scope) return;
  stopMyEvents();
  userId = user.id;
  scope = new Scope();
  openEventStream('/me/events', {
    scope,
    onEvent: (name, data) => {
      if (name !== 'chat') return;
      const say = SAID[data.state];
      if (!say) return;
      unseen += 1;
      badge.hidden = false;
      badge.textContent = String(unseen);
      badge.setAttribute('aria-label', `${unseen} update${unseen === 1 ? '' : 's'}`);
      toast(say(data.with || 'The other person'), 'info');
      onChange(data);
    },
  });
}

export function stopMyEvents() {
  if (scope) scope.dispose();
  scope = null;
  userId = null;
  seen();
}
