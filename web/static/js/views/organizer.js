// The organizer's settings: the event's days and allowed durations, and each company's quota.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { chooseEvent, currentEvent } from '../events.js';
import { t } from '../i18n.js';
import { downloadLink } from '../downloads.js';
import { busy, loading, pageHeader, showNotice } from '../ui.js';
import { renderLiveBoard } from './live_board.js';
import { webhookSection } from './webhooks.js';

const DURATIONS = [10, 15, 20, 30];

function dayRow(day, onRemove) {
  const date = h('input', { type: 'date', value: day.date || '', required: true, 'aria-label': t('organizer.day.date') });
  const start = h('input', { type: 'time', value: day.start || '09:00', required: true, 'aria-label': t('organizer.day.start') });
  const end = h('input', { type: 'time', value: day.end || '17:00', required: true, 'aria-label': t('organizer.day.end') });
  const boxes = DURATIONS.map((m) => h('input', { type: 'checkbox', value: String(m), checked: (day.durations || [15, 30]).includes(m) }));
  const row = h('div', { class: 'day-row' },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('organizer.day.date')), date),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('organizer.day.from')), start),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('organizer.day.to')), end),
    h('fieldset', { class: 'durations' }, h('legend', { class: 'field-label' }, t('organizer.day.lengths')),
      boxes.map((box) => h('label', { class: 'check' }, box, t('availability.minutes', { minutes: Number(box.value) })))),
    h('button', { type: 'button', class: 'btn btn-ghost btn-small btn-danger-text', onclick: () => onRemove(row) }, t('organizer.day.remove')));
  row.read = () => ({
    date: date.value,
    start: start.value,
    end: end.value,
    durations: boxes.filter((b) => b.checked).map((b) => Number(b.value)),
  });
  return row;
}

export async function renderOrganizer(root, context = {}) {
  if ((context.params || [])[0] === 'live') return renderLiveBoard(root, context);
  replace(root, loading());
  const { event, events } = await currentEvent();
  const draft = event || {
    name: '', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', days: [], quotas: [],
    employee_requests_allowed: true, join_opens_before_s: 300, join_grace_after_s: 120, support_url: '', media_mode: 'p2p',
    min_gap_min: 0,
  };
  const messages = h('div');
  const f = {
    name: h('input', { type: 'text', value: draft.name, required: true, maxlength: 200 }),
    timezone: h('input', { type: 'text', value: draft.timezone, required: true, placeholder: 'Europe/Berlin' }),
    support_url: h('input', { type: 'url', value: draft.support_url, placeholder: 'https://…' }),
    employee_requests_allowed: h('input', { type: 'checkbox', checked: draft.employee_requests_allowed }),
    opens: h('input', { type: 'number', min: 0, max: 60, value: String(Math.round(draft.join_opens_before_s / 60)) }),
    grace: h('input', { type: 'number', min: 0, max: 60, value: String(Math.round(draft.join_grace_after_s / 60)) }),
    min_gap: h('input', { type: 'number', min: 0, max: 120, value: String(draft.min_gap_min ?? 0), dataset: { field: 'min-gap' } }),
    media_mode: h('select', {}, ['p2p', 'relay'].map((mode) => h('option', { value: mode, selected: draft.media_mode === mode }, t(mode === 'p2p' ? 'organizer.media.p2p' : 'organizer.media.relay')))),
  };
  const daysHost = h('div', { class: 'day-rows' });
  const zoneNote = h('p', { class: 'muted small' });
  const showZone = () => { zoneNote.textContent = t('organizer.zone_note', { zone: f.timezone.value.trim() || t('organizer.zone_unset') }); };
  f.timezone.addEventListener('input', showZone);
  showZone();
  const addDay = (day) => daysHost.append(dayRow(day, (row) => row.remove()));
  for (const day of draft.days) addDay(day);
  const field = (label, input, hint) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input, hint ? h('span', { class: 'field-hint' }, hint) : null);

  const save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { action: 'save-event' } }, t(event ? 'organizer.save_event' : 'organizer.create_event'));
  const form = h('form', {
    class: 'card event-form',
    onsubmit: (e) => {
      e.preventDefault();
      busy(save, messages, async () => {
        const body = {
          name: f.name.value.trim(),
          timezone: f.timezone.value.trim(),
          days: [...daysHost.children].map((row) => row.read()),
          quotas: (event?.quotas || []).map((q) => ({ company_id: q.company_id, slot_quota: q.slot_quota })),
          employee_requests_allowed: f.employee_requests_allowed.checked,
          join_opens_before_s: Number(f.opens.value) * 60,
          join_grace_after_s: Number(f.grace.value) * 60,
          support_url: f.support_url.value.trim(),
          media_mode: f.media_mode.value,
          min_gap_min: Number(f.min_gap.value),
        };
        const saved = event ? await api.put(`/events/${event.id}`, body) : await api.post('/events', body);
        chooseEvent(saved.id);
        showNotice(messages, t('organizer.event_saved'), 'success');
        if (!event) window.dispatchEvent(new HashChangeEvent('hashchange'));
      });
    },
  },
  h('h2', {}, t('organizer.event')),
  h('div', { class: 'form-grid' },
    field(t('organizer.name'), f.name), field(t('organizer.timezone'), f.timezone, t('organizer.timezone_hint')),
    field(t('organizer.support_link'), f.support_url, t('organizer.support_hint')), field(t('organizer.calls_run'), f.media_mode),
    field(t('organizer.join_opens'), f.opens), field(t('organizer.join_grace'), f.grace),
    field(t('organizer.min_gap'), f.min_gap, t('organizer.min_gap_hint'))),
  h('label', { class: 'check' }, f.employee_requests_allowed, t('organizer.employee_invites')),
  h('h3', {}, t('organizer.days')),
  zoneNote,
  daysHost,
  h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => addDay({}) }, t('organizer.add_day')),
  messages,
  h('div', { class: 'row' }, save));

  const picker = events.length > 1
    ? h('select', { 'aria-label': t('organizer.event'), onchange: (e) => { chooseEvent(e.target.value); window.dispatchEvent(new HashChangeEvent('hashchange')); } },
      events.map((ev) => h('option', { value: ev.id, selected: ev.id === event?.id }, ev.name)))
    : null;
  const board = event ? h('a', { class: 'btn btn-primary btn-small', href: '#/organizer/live', dataset: { action: 'live-board' } }, t('board.link')) : null;
  replace(root, pageHeader(t('organizer.title'), event ? event.name : t('organizer.first_event'), picker, board), form, event ? quotaSection(event) : null, event ? afterSection(event) : null, event ? webhookSection(event) : null);
}

/** After the fair: the CSV of every chat, and participants' feedback summed up per company. */
function afterSection(event) {
  const table = h('div', { id: 'feedback-summary' }, h('p', { class: 'muted' }, t('after.summary.loading')));
  api.get(`/events/${event.id}/feedback`).then((summary) => {
    if (!summary.companies.length) {
      replace(table, h('p', { class: 'muted' }, t('after.summary.none')));
      return;
    }
    const columns = [t('after.summary.company'), t('after.summary.answers'), t('after.summary.average'), t('after.summary.scores'), t('after.summary.comments')];
    replace(table, h('table', { class: 'summary-table' },
      h('thead', {}, h('tr', {}, columns.map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, summary.companies.map((c) => h('tr', { dataset: { company: c.company_id } },
        h('th', { scope: 'row' }, c.company_name),
        h('td', {}, String(c.responses)),
        h('td', {}, c.average === null ? '–' : c.average.toFixed(1)),
        h('td', {}, c.scores.join(' · ')),
        h('td', {}, c.comments.length
          ? h('ul', { class: 'comments' }, c.comments.map((text) => h('li', {}, text)))
          : h('span', { class: 'muted' }, t('after.summary.comments_from', { count: summary.min_responses_for_comments }))))))));
  }, (err) => replace(table, h('p', { class: 'alert alert-error' }, err.message)));
  return h('section', { class: 'card', id: 'after-the-fair' },
    h('h2', {}, t('after.summary.title')),
    h('p', {}, downloadLink(t('after.export.all'), `/api/v1/events/${event.id}/export/chats.csv`, `duet-chats-${event.id}.csv`, 'text/csv', 'export-chats')),
    h('h3', {}, t('after.summary.heading')),
    h('p', { class: 'muted' }, t('after.summary.privacy')),
    table);
}

/** A company as text: its name, and the id the API and tokens use. */
function companyLabel(name, id) {
  return h('div', { class: 'quota-company' },
    h('span', { class: 'quota-name' }, name || id),
    h('span', { class: 'muted small' }, t('organizer.company_id_value', { id })));
}

function quotaSection(event) {
  const messages = h('div');
  const rows = h('div', { class: 'quota-rows' });
  const field = (label, input) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input);
  const addRow = (quota) => {
    let companyId = quota.company_id || '';
    // A company that has a quota is shown, not edited: its id is what the quota belongs to.
    // Only a row being added asks for the id of the company to give a quota to.
    const idInput = companyId ? null : h('input', { type: 'text', required: true, placeholder: t('organizer.company_id_placeholder') });
    const company = h('div', { class: 'quota-company-slot' }, companyId ? companyLabel(quota.company_name, companyId) : field(t('organizer.company_id'), idInput));
    const amount = h('input', { type: 'number', min: 0, max: 10000, value: String(quota.slot_quota ?? 10) });
    const save = h('button', { type: 'button', class: 'btn btn-secondary btn-small', dataset: { action: 'save-quota' } }, t('ui.save'));
    const row = h('div', { class: 'quota-row', dataset: { company: companyId } }, company, field(t('organizer.slot_quota'), amount), save);
    save.addEventListener('click', () => busy(save, messages, async () => {
      const id = companyId || idInput.value.trim();
      if (!id) throw new Error(t('organizer.company_id_first'));
      const saved = await api.put(`/events/${event.id}/quotas/${encodeURIComponent(id)}`, { slot_quota: Number(amount.value) });
      const name = (saved.quotas || []).find((q) => q.company_id === id)?.company_name || quota.company_name || id;
      if (!companyId) {
        companyId = id;
        row.dataset.company = id;
        replace(company, companyLabel(name, id));
      }
      showNotice(messages, t('organizer.quota_saved', { name, count: Number(amount.value) }), 'success');
    }));
    rows.append(row);
  };
  for (const quota of event.quotas) addRow(quota);
  return h('section', { class: 'card' },
    h('h2', {}, t('organizer.quotas')),
    h('p', { class: 'muted' }, t('organizer.quotas_intro')),
    rows,
    h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => addRow({}) }, t('organizer.add_company')),
    messages);
}
