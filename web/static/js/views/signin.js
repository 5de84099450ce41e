// Sign-in: in the demo, pick a seeded person; otherwise the host platform passes a token.

import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { session } from '../session.js';
import { capitalize, initials, roleName } from '../format.js';
import { t } from '../i18n.js';
import { alertBox, loading, showError } from '../ui.js';

const ROLE_TITLES = {
  organizer: 'signin.group.organizers',
  employee: 'signin.group.employees',
  participant: 'signin.group.participants',
};

function personButton(user, onPick) {
  return h(
    'button',
    { class: 'person', type: 'button', dataset: { userId: user.id }, onclick: () => onPick(user) },
    h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(user.name)),
    h('span', { class: 'person-text' }, h('strong', {}, user.name), h('span', { class: 'muted' }, user.headline || roleName(user.role))),
  );
}

export async function renderSignIn(root) {
  const errors = h('div');
  const list = h('div', { class: 'signin-groups' }, loading(t('signin.loading')));
  replace(
    root,
    h(
      'section',
      { class: 'signin' },
      h(
        'div',
        { class: 'signin-intro' },
        h('h1', {}, t('signin.title')),
        h('p', { class: 'subtitle' }, t('signin.subtitle')),
        h('p', { class: 'muted' }, t('signin.tip')),
        h('p', { class: 'muted' }, t('signin.mail_before'), h('a', { href: '#/mail' }, t('signin.mail_link')), t('signin.mail_after')),
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
      replace(list, alertBox(t('signin.platform'), 'info'));
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
  groups.push(['organizer', t(ROLE_TITLES.organizer), byRole('organizer')]);
  const companies = [...new Set(byRole('employee').map((u) => u.company_id))].sort();
  for (const company of companies) {
    groups.push([`employee-${company}`, t('signin.group.company', { group: t(ROLE_TITLES.employee), company: capitalize(company) }), byRole('employee').filter((u) => u.company_id === company)]);
  }
  groups.push(['participant', t(ROLE_TITLES.participant), byRole('participant')]);
  replace(
    list,
    groups
      .filter(([, , people]) => people.length)
      .map(([id, title, people]) =>
        h('section', { class: 'signin-group', dataset: { group: id } }, h('h2', {}, title), h('div', { class: 'people' }, people.map((u) => personButton(u, pick)))),
      ),
  );
}
