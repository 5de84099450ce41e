// Boot and hash router: #/signin, #/organizer, #/employee/<tab>, #/participant/<tab>, #/chat/<id>.

import { api, onUnauthorized } from './api.js';
import { h, replace } from './dom.js';
import { session, takeTokenFromFragment } from './session.js';
import { Scope } from './scope.js';
import { alertBox } from './ui.js';
import { capitalize, initials } from './format.js';
import { renderSignIn } from './views/signin.js';
import { renderOrganizer } from './views/organizer.js';
import { renderEmployee } from './views/employee.js';
import { renderParticipant } from './views/participant.js';
import { renderCall } from './call/call_page.js';

const app = document.getElementById('app');
const userSlot = document.getElementById('topbar-user');
let scope = null;
let flash = null;
let navigated = false; // false on the first page load: the skip link is then the first Tab stop

const VIEWS = {
  signin: renderSignIn,
  organizer: renderOrganizer,
  employee: renderEmployee,
  participant: renderParticipant,
  chat: renderCall,
};

function parseHash() {
  const path = location.hash.replace(/^#\/?/, '').split('?')[0];
  const [name = '', ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name, params };
}

function renderTopbar(user) {
  if (!user) {
    replace(userSlot);
    return;
  }
  const home = `#/${user.role}`;
  replace(
    userSlot,
    h('a', { class: 'topbar-link', href: home }, user.role === 'participant' ? 'My chats' : user.role === 'employee' ? '1-1 Chat' : 'Settings'),
    h('span', { class: 'who' },
      h('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' }, initials(user.name)),
      h('span', { class: 'who-text' }, h('strong', {}, user.name), h('span', { class: 'muted' }, capitalize(user.role)))),
    h('button', {
      class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'sign-out' },
      onclick: () => {
        session.signOut();
        location.hash = '#/signin';
      },
    }, 'Sign out'),
  );
}

async function ensureUser() {
  if (session.user) return session.user;
  const me = await api.get('/me');
  session.rememberUser(me);
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
    const view = VIEWS[name];
    if (!view || name === 'signin' || (name !== 'chat' && name !== user.role)) {
      location.replace(`#/${user.role}`);
      return;
    }
    document.body.dataset.view = name;
    await view(host, { params, scope: current, user });
    showFlash(host);
    focusNewPage(current);
  } catch (err) {
    if (current.disposed) return;
    replace(host, alertBox(err.message || 'Something went wrong. Please reload the page.'));
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
window.addEventListener('unhandledrejection', (event) => console.warn('unhandled', event.reason));
takeTokenFromFragment();
route();
