// The demo's mail outbox: what Duet would have emailed, as the catch-all wrote it (dev only).

import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { alertBox, emptyState, loading, pageHeader, showError } from '../ui.js';

function mailCard(mail) {
  const frame = h('iframe', {
    class: 'mail-frame',
    title: t('outbox.frame', { subject: mail.subject }),
    sandbox: '',
    src: `/api/v1/dev/mail/${encodeURIComponent(mail.id)}`,
    loading: 'lazy',
  });
  return h('article', { class: 'card mail-card', dataset: { kind: mail.kind } },
    h('header', { class: 'mail-head' },
      h('h2', { class: 'mail-subject' }, mail.subject),
      h('p', { class: 'muted' }, t('outbox.to', { to: mail.to, date: mail.date }),
        mail.calendar ? ` · ${t('outbox.calendar', { method: mail.calendar })}` : '')),
    frame,
    h('details', {}, h('summary', {}, t('outbox.plain')), h('pre', { class: 'mail-text' }, mail.text)));
}

export async function renderMailOutbox(root) {
  const list = h('div', { class: 'card-list' }, loading(t('outbox.loading')));
  replace(
    root,
    pageHeader(t('outbox.title'), t('outbox.subtitle')),
    list,
  );
  let outbox;
  try {
    outbox = await api.get('/dev/mail');
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) replace(list, alertBox(t('outbox.demo_only'), 'info'));
    else showError(list, err);
    return;
  }
  if (!outbox.directory) {
    replace(list, alertBox(t('outbox.smtp'), 'info'));
    return;
  }
  replace(list, outbox.mails.length ? outbox.mails.map(mailCard) : emptyState(t('outbox.empty.title'), t('outbox.empty.text')));
}
