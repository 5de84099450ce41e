// Boot and hash router: #/signin, #/organizer, #/employee/<tab>, #/participant/<tab>, #/chat/<id>.

import { api, onUnauthorized } from './api.js';
import { h, replace } from './dom.js';
import { session, takeTokenFromFragment } from './session.js';
import { Scope } from './scope.js';
import { alertBox } from './ui.js';
import { initials, roleName } from './format.js';
import { LANGUAGE_EVENT, t } from './i18n.js';
import { languagePicker } from './language_picker.js';
import { renderSignIn } from './views/signin.js';
import { renderOrganizer } from './views/organizer.js';
import { renderEmployee } from './views/employee.js';
import { renderParticipant } from './views/participant.js';
import { renderCall } from './call/call_page.js';
import { applyZoneSetting, zoneMenu } from './zone_setting.js';
import { renderSettings } from './views/settings.js';
import { renderMailOutbox } from './views/mail_outbox.js';
import { eventsBadge, seen, startMyEvents, stopMyEvents } from './my_events.js';

const app = document.getElementById('app');
const userSlot = document.getElementById('topbar-user');
const languageSlot = document.getElementById('topbar-language');
let scope = null;
let flash = null;
let navigated = false; // false on the first page load: the skip link is then the first Tab stop

const VIEWS = {
  signin: renderSignIn,
  organizer: renderOrganizer,
  employee: renderEmployee,
  participant: renderParticipant,
  chat: renderCall,
  settings: renderSettings,
  mail: renderMailOutbox,
};
// Pages anyone signed in may open, whatever their role; `mail` also without signing in (demo).
const SHARED = new Set(['chat', 'settings', 'mail']);

function parseHash() {
  const path = location.hash.replace(/^#\/?/, '').split('?')[0];
  const [name = '', ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name, params };
}

const HOME_KEYS = { participant: 'topbar.home.participant', employee: 'topbar.home.employee', organizer: 'topbar.home.organizer' };

function renderTopbar(user) {
  replace(languageSlot, languagePicker());
  if (!user) {
    replace(userSlot);
    return;
  }
  const home = `#/${user.role}`;
  replace(
    userSlot,
    eventsBadge(),
    h('a', { class: 'topbar-link', href: home }, t(HOME_KEYS[user.role] || HOME_KEYS.organizer)),
    zoneMenu(user, () => route()),
    h('span', { class: 'who' },
      h('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' }, initials(user.name)),
      h('span', { class: 'who-text' }, h('strong', {}, user.name), h('span', { class: 'muted' }, roleName(user.role)))),
    h('button', {
      class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'sign-out' },
      onclick: () => {
        stopMyEvents();
        session.signOut();
        location.hash = '#/signin';
      },
    }, t('topbar.sign_out')),
  );
  userSlot.prepend(h('a', { class: 'topbar-link', href: '#/settings', dataset: { link: 'settings' } }, t('settings.link')));
}

async function ensureUser() {
  // A user known from /me carries their time zone setting (the sign-in's answer does not).
  if (session.user && 'time_zone' in session.user) {
    applyZoneSetting(session.user);
    return session.user;
  }
  const me = await api.get('/me');
  session.rememberUser(me);
  applyZoneSetting(me);
  return me;
}

async function route() {
  if (scope) scope.dispose();
  scope = new Scope();
  const current = scope;
  // Each route renders into a host of its own: a slower, older route that is still loading
  // writes into its detached host and never over the page the person moved on to.
  const host = h('div', { class: 'view' });
  app.replaceChildren(host);
  const { name, params } = parseHash();
  if (!session.token) {
    renderTopbar(null);
    if (name === 'mail') {
      await renderMailOutbox(host, { params, scope });
      return;
    }
    if (name !== 'signin') {
      location.replace('#/signin');
      return;
    }
    await renderSignIn(host, { params, scope });
    showFlash(host);
    focusNewPage(current);
    return;
  }
  try {
    const user = await ensureUser();
    if (current.disposed) return;
    renderTopbar(user);
    startMyEvents(user, refreshList);
    const view = VIEWS[name];
    if (!view || name === 'signin' || (!SHARED.has(name) && name !== user.role)) {
      location.replace(`#/${user.role}`);
      return;
    }
    document.body.dataset.view = name;
    await view(host, { params, scope: current, user });
    showFlash(host);
    focusNewPage(current);
  } catch (err) {
    if (current.disposed) return;
    replace(host, alertBox(err.message || t('error.generic_reload')));
  }
}

// Tabs that list chats: drawn again when one of the person's chats changes (my_events.js).
// Others (availability, the companies, a call) are left alone: someone may be typing there.
const LIST_TABS = new Set(['requested', 'in_scheduling', 'confirmed', 'completed', 'history', 'invitations', 'requests', 'schedule']);

function refreshList() {
  const { name, params } = parseHash();
  if ((name === 'employee' || name === 'participant') && LIST_TABS.has(params[0] || '')) {
    seen();
    route();
  }
}

/** After a navigation the old page's focused control is gone: start the keyboard at the new
 * page's main region (unless the person already moved on inside it). */
function focusNewPage(current) {
  if (!navigated || current.disposed) return;
  if (!document.activeElement || document.activeElement === document.body) app.focus({ preventScroll: true });
}

function showFlash(host) {
  if (!flash) return;
  host.prepend(alertBox(flash, 'info'));
  flash = null;
}

onUnauthorized((err) => {
  stopMyEvents();
  session.signOut();
  flash = err.message;
  location.hash = '#/signin';
});

// Tabs that point at the page we are on re-render it (fresh data) instead of doing nothing.
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a[href^="#/"]');
  if (link && link.getAttribute('href') === location.hash) {
    event.preventDefault();
    navigated = true;
    route();
  }
});

// The skip link moves the focus to the main region without changing the route (the hash).
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  app.focus();
});

window.addEventListener('hashchange', () => {
  navigated = true;
  route();
});
// A new language re-renders the page in place (a call hides the top bar, so none is torn down).
window.addEventListener(LANGUAGE_EVENT, () => {
  if (!document.body.classList.contains('in-call')) route();
  else renderTopbar(session.user);
});
window.addEventListener('unhandledrejection', (event) => console.warn('unhandled', event.reason));
takeTokenFromFragment();
route();
