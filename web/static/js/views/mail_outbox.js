// The demo's mail outbox: what Duet would have emailed, as the catch-all wrote it (dev only).

import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { alertBox, emptyState, loading, pageHeader, showError } from '../ui.js';

function mailCard(mail) {
  const frame = h('iframe', {
    class: 'mail-frame',
    title: `Email: ${mail.subject}`,
    sandbox: '',
    src: `/api/v1/dev/mail/${encodeURIComponent(mail.id)}`,
    loading: 'lazy',
  });
  return h('article', { class: 'card mail-card', dataset: { kind: mail.kind } },
    h('header', { class: 'mail-head' },
      h('h2', { class: 'mail-subject' }, mail.subject),
      h('p', { class: 'muted' }, `To ${mail.to} · ${mail.date}`,
        mail.calendar ? ` · calendar ${mail.calendar}` : '')),
    frame,
    h('details', {}, h('summary', {}, 'Plain text'), h('pre', { class: 'mail-text' }, mail.text)));
}

export async function renderMailOutbox(root) {
  const list = h('div', { class: 'card-list' }, loading('Loading the mail outbox…'));
  replace(
    root,
    pageHeader('Mail outbox', 'No mail server is configured, so Duet writes each email here (and to var/mail/) instead of sending it.'),
    list,
  );
  let outbox;
  try {
    outbox = await api.get('/dev/mail');
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) replace(list, alertBox('The mail outbox is only shown in the demo.', 'info'));
    else showError(list, err);
    return;
  }
  if (!outbox.directory) {
    replace(list, alertBox('This server sends its mail through SMTP; nothing is kept here.', 'info'));
    return;
  }
  replace(list, outbox.mails.length ? outbox.mails.map(mailCard) : emptyState('No mail yet', 'Request, approve or book a chat, and the emails it sends show up here.'));
}
