// The signed-in person's own event stream (GET /api/v1/me/events, docs/live.md): when one of
// their chats changes (a request, an approval, a booking, a cancel), a toast says so, the topbar
// badge counts it, and an open list of chats is drawn again with fresh data: no reload. What
// the person did themselves is not sent (the page they did it on shows it already).

import { h } from './dom.js';
import { t } from './i18n.js';
import { Scope } from './scope.js';
import { openEventStream } from './sse.js';
import { toast } from './ui.js';

// What the toast says per new state of a chat; {name} is the other person.
const SAID = {
  requested: 'updates.requested',
  approved: 'updates.approved',
  declined: 'updates.declined',
  withdrawn: 'updates.withdrawn',
  confirmed: 'updates.confirmed',
  cancelled: 'updates.cancelled',
};
let scope = null;
let userId = null;
let unseen = 0;
const badge = h('a', { class: 'events-badge', id: 'events-badge', href: '#', hidden: true, 'aria-live': 'polite',
  onclick: (e) => { e.preventDefault(); seen(); } });

/** Its words in the current language (the topbar asks again after a change of language). */
function label() {
  badge.title = t('updates.badge_title');
  if (unseen) badge.setAttribute('aria-label', t('updates.count', { count: unseen }));
  else badge.removeAttribute('aria-label');
}

/** The badge element for the topbar. */
export function eventsBadge() {
  label();
  return badge;
}

export function seen() {
  unseen = 0;
  badge.hidden = true;
  badge.textContent = '';
  label();
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
      label();
      toast(t(say, { name: data.with || t('updates.the_other_person') }), 'info');
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
