// The organizer's webhook endpoints of an event: add one (its secret shown once), turn it on or
// off, rotate its secret, delete it, and see its recent deliveries with a Retry button.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { locale, t } from '../i18n.js';
import { badge, busy, showNotice } from '../ui.js';

// The event types, in the order docs/webhooks.md lists them.
export const EVENT_TYPES = [
  'chat.requested', 'chat.approved', 'chat.declined', 'chat.withdrawn', 'chat.confirmed',
  'chat.rescheduled', 'chat.cancelled', 'chat.completed', 'chat.no_show', 'room.opened',
  'room.closed', 'participant.joined', 'participant.left', 'support.requested', 'call.quality',
];
const STATUS_BADGE = { delivered: 'ok', pending: 'warn', failed: '' };
const STATUS_TEXT = { delivered: 'webhooks.status.delivered', pending: 'webhooks.status.pending', failed: 'webhooks.status.failed' };

function when(iso) {
  return iso ? new Date(iso).toLocaleString(locale()) : '—';
}

function secretBox(secret) {
  // Shown once: the server never returns it again.
  return h('div', { class: 'alert alert-info webhook-secret', role: 'status' },
    h('strong', {}, t('webhooks.secret_once')),
    h('code', { dataset: { secret: '' } }, secret));
}

function deliveriesTable(base, endpoint, messages) {
  const host = h('div', { class: 'webhook-deliveries' });
  const load = async () => {
    const { deliveries } = await api.get(`${base}/${endpoint.id}/deliveries`);
    if (!deliveries.length) {
      replace(host, h('p', { class: 'muted small' }, t('webhooks.no_deliveries')));
      return;
    }
    replace(host, h('table', { class: 'webhook-table' },
      h('thead', {}, h('tr', {}, [t('webhooks.col.event'), t('webhooks.col.status'), t('webhooks.col.attempts'), t('webhooks.col.last_try'), t('webhooks.col.answer'), ''].map((label) => h('th', {}, label)))),
      h('tbody', {}, deliveries.map((d) => {
        const retry = h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { action: 'retry-delivery' } }, t('webhooks.retry'));
        retry.addEventListener('click', () => busy(retry, messages, async () => {
          await api.post(`${base}/${endpoint.id}/deliveries/${d.id}/retry`);
          showNotice(messages, t('webhooks.retrying', { type: d.type }), 'success');
          await load();
        }));
        return h('tr', { dataset: { delivery: String(d.id), status: d.status } },
          h('td', {}, h('code', {}, d.type)),
          h('td', {}, badge(t(STATUS_TEXT[d.status]), STATUS_BADGE[d.status])),
          h('td', {}, String(d.attempts)),
          h('td', {}, when(d.last_attempt_at)),
          h('td', { class: 'small' }, d.last_status ? String(d.last_status) : d.last_error || '—'),
          h('td', {}, d.status === 'delivered' ? null : retry));
      }))));
  };
  host.reload = load;
  return host;
}

function endpointCard(base, endpoint, onGone, secret = '') {
  const messages = h('div');
  const secretSlot = h('div', {}, secret ? secretBox(secret) : null);
  const state = badge(endpoint.enabled ? t('webhooks.enabled') : t('webhooks.disabled'), endpoint.enabled ? 'ok' : '');
  const toggle = h('button', { type: 'button', class: 'btn btn-secondary btn-small', dataset: { action: 'toggle-endpoint' } }, endpoint.enabled ? t('webhooks.disable') : t('webhooks.enable'));
  const rotate = h('button', { type: 'button', class: 'btn btn-ghost btn-small', dataset: { action: 'rotate-secret' } }, t('webhooks.rotate'));
  const remove = h('button', { type: 'button', class: 'btn btn-ghost btn-small btn-danger-text', dataset: { action: 'delete-endpoint' } }, t('webhooks.delete'));
  const refresh = h('button', { type: 'button', class: 'btn btn-ghost btn-small' }, t('webhooks.refresh'));
  const deliveries = deliveriesTable(base, endpoint, messages);
  toggle.addEventListener('click', () => busy(toggle, messages, async () => {
    const saved = await api.put(`${base}/${endpoint.id}`, { enabled: !endpoint.enabled, event_types: endpoint.event_types });
    Object.assign(endpoint, saved);
    replace(state, endpoint.enabled ? t('webhooks.enabled') : t('webhooks.disabled'));
    state.className = `badge ${endpoint.enabled ? 'badge-ok' : ''}`;
    toggle.textContent = endpoint.enabled ? t('webhooks.disable') : t('webhooks.enable');
  }));
  rotate.addEventListener('click', () => busy(rotate, messages, async () => {
    const { secret } = await api.post(`${base}/${endpoint.id}/rotate-secret`);
    replace(secretSlot, secretBox(secret));
  }));
  remove.addEventListener('click', () => busy(remove, messages, async () => {
    await api.del(`${base}/${endpoint.id}`);
    onGone();
  }));
  refresh.addEventListener('click', () => busy(refresh, messages, deliveries.reload));
  deliveries.reload().catch(() => {});
  return h('div', { class: 'webhook-endpoint', dataset: { endpoint: endpoint.id } },
    h('div', { class: 'row webhook-head' }, h('code', { class: 'webhook-url' }, endpoint.url), state),
    h('p', { class: 'muted small' }, endpoint.event_types.join(', ')),
    secretSlot,
    h('div', { class: 'row' }, toggle, rotate, refresh, remove),
    messages,
    deliveries);
}

export function webhookSection(event) {
  const base = `/events/${event.id}/webhooks`;
  const messages = h('div');
  const list = h('div', { class: 'webhook-list' });
  const url = h('input', { type: 'url', required: true, placeholder: t('webhooks.url_example'), 'aria-label': t('webhooks.url_label') });
  const boxes = EVENT_TYPES.map((type) => h('input', { type: 'checkbox', value: type, checked: true }));
  const add = h('button', { type: 'submit', class: 'btn btn-primary btn-small', dataset: { action: 'add-endpoint' } }, t('webhooks.add'));
  const show = (endpoint, secret) => {
    const card = endpointCard(base, endpoint, () => card.remove(), secret);
    list.append(card);
  };
  const form = h('form', {
    class: 'webhook-form',
    onsubmit: (e) => {
      e.preventDefault();
      busy(add, messages, async () => {
        const created = await api.post(base, { url: url.value.trim(), event_types: boxes.filter((b) => b.checked).map((b) => b.value) });
        show(created.endpoint, created.secret);
        url.value = '';
        showNotice(messages, t('webhooks.added'), 'success');
      });
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('webhooks.url')), url),
  h('fieldset', { class: 'durations webhook-types' }, h('legend', { class: 'field-label' }, t('webhooks.events')),
    boxes.map((box) => h('label', { class: 'check' }, box, box.value))),
  h('div', { class: 'row' }, add));
  api.get(base).then(({ endpoints }) => endpoints.forEach((e) => show(e))).catch(() => {});
  return h('section', { class: 'card webhooks', dataset: { section: 'webhooks' } },
    h('h2', {}, t('webhooks.title')),
    h('p', { class: 'muted' }, t('webhooks.intro')),
    form,
    messages,
    list);
}
