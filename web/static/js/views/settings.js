// My settings: which kinds of email I get (GET/PUT /api/v1/me/notifications).

import { t } from '../i18n.js';
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { alertBox, loading, pageHeader, showError, toast } from '../ui.js';

// The kinds' names in the reader's language (the server's `label` is English).
const KIND_TEXT = {
  request_received: 'settings.kind.request_received',
  request_approved: 'settings.kind.request_approved',
  request_declined: 'settings.kind.request_declined',
  chat_confirmed: 'settings.kind.chat_confirmed',
  chat_rescheduled: 'settings.kind.chat_rescheduled',
  chat_cancelled: 'settings.kind.chat_cancelled',
  reminder: 'settings.kind.reminder',
  join_open: 'settings.kind.join_open',
  peer_waiting: 'settings.kind.peer_waiting',
};

function kindRow(kind, onToggle) {
  const id = `mail-kind-${kind.kind}`;
  const box = h('input', {
    type: 'checkbox', id, checked: kind.enabled, dataset: { kind: kind.kind },
    onchange: () => onToggle(box),
  });
  return h('div', { class: 'setting-row' }, box, h('label', { for: id }, KIND_TEXT[kind.kind] ? t(KIND_TEXT[kind.kind]) : kind.label));
}

export async function renderSettings(root) {
  const errors = h('div');
  const body = h('div', { class: 'card settings-card' }, loading(t('settings.loading')));
  replace(
    root,
    pageHeader(t('settings.title'), t('settings.subtitle')),
    errors,
    h('section', { class: 'settings', 'aria-labelledby': 'mail-settings-title' },
      h('h2', { id: 'mail-settings-title' }, t('settings.mail')),
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
      toast(box.checked ? t('settings.on') : t('settings.off'), 'success');
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
      ? h('p', { class: 'muted' }, t('settings.address_before'), h('strong', {}, settings.email), t('settings.address_after'))
      : alertBox(t('settings.no_address'), 'info'),
    h('div', { class: 'setting-list' }, settings.kinds.map((kind) => kindRow(kind, toggle))),
  );
}
