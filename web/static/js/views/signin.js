// Sign-in: in the demo, pick a seeded person; otherwise the host platform passes a token.

import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { session } from '../session.js';
import { capitalize, initials } from '../format.js';
import { alertBox, loading, showError } from '../ui.js';

const ROLE_TITLES = {
  organizer: 'Organizers',
  employee: 'Company employees',
  participant: 'Participants',
};

function personButton(user, onPick) {
  return h(
    'button',
    { class: 'person', type: 'button', dataset: { userId: user.id }, onclick: () => onPick(user) },
    h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(user.name)),
    h('span', { class: 'person-text' }, h('strong', {}, user.name), h('span', { class: 'muted' }, user.headline || capitalize(user.role))),
  );
}

export async function renderSignIn(root) {
  const errors = h('div');
  const list = h('div', { class: 'signin-groups' }, loading('Loading the demo people…'));
  replace(
    root,
    h(
      'section',
      { class: 'signin' },
      h(
        'div',
        { class: 'signin-intro' },
        h('h1', {}, 'Sign in to Duet'),
        h('p', { class: 'subtitle' }, 'Scheduled 1-1 video chats between company employees and participants of a virtual career fair.'),
        h('p', { class: 'muted' }, 'Tip: open a second window and sign in as someone else to try a call with yourself.'),
        h('p', { class: 'muted' }, 'Emails the demo sends are kept in its ', h('a', { href: '#/mail' }, 'mail outbox'), '.'),
      ),
      errors,
      list,
    ),
  );

  let users;
  try {
    ({ users } = await api.get('/dev/users'));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      replace(list, alertBox('Sign in through your career fair’s platform: it opens Duet for you already signed in.', 'info'));
    } else {
      showError(list, err);
    }
    return;
  }

  async function pick(user) {
    for (const b of list.querySelectorAll('button')) b.disabled = true;
    try {
      const { token, user: signedIn } = await api.post('/dev/login', { user_id: user.id });
      session.signIn(token, signedIn);
      location.hash = `#/${signedIn.role}`;
    } catch (err) {
      showError(errors, err);
      for (const b of list.querySelectorAll('button')) b.disabled = false;
    }
  }

  const groups = [];
  const byRole = (role) => users.filter((u) => u.role === role);
  groups.push(['organizer', ROLE_TITLES.organizer, byRole('organizer')]);
  const companies = [...new Set(byRole('employee').map((u) => u.company_id))].sort();
  for (const company of companies) {
    groups.push([`employee-${company}`, `${ROLE_TITLES.employee} · ${capitalize(company)}`, byRole('employee').filter((u) => u.company_id === company)]);
  }
  groups.push(['participant', ROLE_TITLES.participant, byRole('participant')]);
  replace(
    list,
    groups
      .filter(([, , people]) => people.length)
      .map(([id, title, people]) =>
        h('section', { class: 'signin-group', dataset: { group: id } }, h('h2', {}, title), h('div', { class: 'people' }, people.map((u) => personButton(u, pick)))),
      ),
  );
}
