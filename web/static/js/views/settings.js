// My settings: which kinds of email I get (GET/PUT /api/v1/me/notifications).

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { alertBox, loading, pageHeader, showError, toast } from '../ui.js';

function kindRow(kind, onToggle) {
  const id = `mail-kind-${kind.kind}`;
  const box = h('input', {
    type: 'checkbox', id, checked: kind.enabled, dataset: { kind: kind.kind },
    onchange: () => onToggle(box),
  });
  return h('div', { class: 'setting-row' }, box, h('label', { for: id }, kind.label));
}

export async function renderSettings(root) {
  const errors = h('div');
  const body = h('div', { class: 'card settings-card' }, loading('Loading your email settings…'));
  replace(
    root,
    pageHeader('Settings', 'Choose which emails Duet sends you.'),
    errors,
    h('section', { class: 'settings', 'aria-labelledby': 'mail-settings-title' },
      h('h2', { id: 'mail-settings-title' }, 'Email notifications'),
      body),
  );
  let settings;
  try {
    settings = await api.get('/me/notifications');
  } catch (err) {
    showError(errors, err);
    return;
  }
  async function toggle(box) {
    box.disabled = true;
    try {
      settings = await api.put('/me/notifications', { kinds: [{ kind: box.dataset.kind, enabled: box.checked }] });
      toast(box.checked ? 'Turned on.' : 'Turned off.', 'success');
    } catch (err) {
      box.checked = !box.checked;
      showError(errors, err);
    } finally {
      box.disabled = false;
    }
  }
  replace(
    body,
    settings.email
      ? h('p', { class: 'muted' }, 'Emails go to ', h('strong', {}, settings.email), '.')
      : alertBox('Your sign-in did not come with an email address, so Duet cannot email you.', 'info'),
    h('div', { class: 'setting-list' }, settings.kinds.map((kind) => kindRow(kind, toggle))),
  );
}
