// The organizer's settings: the event's days and allowed durations, and each company's quota.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { chooseEvent, currentEvent } from '../events.js';
import { busy, loading, pageHeader, showNotice } from '../ui.js';
import { renderLiveBoard } from './live_board.js';

const DURATIONS = [10, 15, 20, 30];

function dayRow(day, onRemove) {
  const date = h('input', { type: 'date', value: day.date || '', required: true, 'aria-label': 'Date' });
  const start = h('input', { type: 'time', value: day.start || '09:00', required: true, 'aria-label': 'Start' });
  const end = h('input', { type: 'time', value: day.end || '17:00', required: true, 'aria-label': 'End' });
  const boxes = DURATIONS.map((m) => h('input', { type: 'checkbox', value: String(m), checked: (day.durations || [15, 30]).includes(m) }));
  const row = h('div', { class: 'day-row' },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Date'), date),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'From'), start),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'To'), end),
    h('fieldset', { class: 'durations' }, h('legend', { class: 'field-label' }, 'Chat lengths'),
      boxes.map((box) => h('label', { class: 'check' }, box, `${box.value} min`))),
    h('button', { type: 'button', class: 'btn btn-ghost btn-small btn-danger-text', onclick: () => onRemove(row) }, 'Remove'));
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
  };
  const messages = h('div');
  const f = {
    name: h('input', { type: 'text', value: draft.name, required: true, maxlength: 200 }),
    timezone: h('input', { type: 'text', value: draft.timezone, required: true, placeholder: 'Europe/Berlin' }),
    support_url: h('input', { type: 'url', value: draft.support_url, placeholder: 'https://…' }),
    employee_requests_allowed: h('input', { type: 'checkbox', checked: draft.employee_requests_allowed }),
    opens: h('input', { type: 'number', min: 0, max: 60, value: String(Math.round(draft.join_opens_before_s / 60)) }),
    grace: h('input', { type: 'number', min: 0, max: 60, value: String(Math.round(draft.join_grace_after_s / 60)) }),
    media_mode: h('select', {}, ['p2p', 'relay'].map((mode) => h('option', { value: mode, selected: draft.media_mode === mode }, mode === 'p2p' ? 'Direct (peer to peer)' : 'Through the server (relay)'))),
  };
  const daysHost = h('div', { class: 'day-rows' });
  const zoneNote = h('p', { class: 'muted small' });
  const showZone = () => { zoneNote.textContent = `Times are in the event's time zone (${f.timezone.value.trim() || 'not set'}).`; };
  f.timezone.addEventListener('input', showZone);
  showZone();
  const addDay = (day) => daysHost.append(dayRow(day, (row) => row.remove()));
  for (const day of draft.days) addDay(day);
  const field = (label, input, hint) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input, hint ? h('span', { class: 'field-hint' }, hint) : null);

  const save = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { action: 'save-event' } }, event ? 'Save event' : 'Create event');
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
        };
        const saved = event ? await api.put(`/events/${event.id}`, body) : await api.post('/events', body);
        chooseEvent(saved.id);
        showNotice(messages, 'Event saved.', 'success');
        if (!event) window.dispatchEvent(new HashChangeEvent('hashchange'));
      });
    },
  },
  h('h2', {}, 'Event'),
  h('div', { class: 'form-grid' },
    field('Name', f.name), field('Time zone', f.timezone, 'IANA name, e.g. Europe/Berlin'),
    field('Support link', f.support_url, 'Shown in every call'), field('Calls run', f.media_mode),
    field('Join opens (minutes before)', f.opens), field('Join stays open (minutes after)', f.grace)),
  h('label', { class: 'check' }, f.employee_requests_allowed, 'Employees may invite participants'),
  h('h3', {}, 'Days'),
  zoneNote,
  daysHost,
  h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => addDay({}) }, '+ Add a day'),
  messages,
  h('div', { class: 'row' }, save));

  const picker = events.length > 1
    ? h('select', { 'aria-label': 'Event', onchange: (e) => { chooseEvent(e.target.value); window.dispatchEvent(new HashChangeEvent('hashchange')); } },
      events.map((ev) => h('option', { value: ev.id, selected: ev.id === event?.id }, ev.name)))
    : null;
  const board = event ? h('a', { class: 'btn btn-primary btn-small', href: '#/organizer/live', dataset: { action: 'live-board' } }, 'Live board') : null;
  replace(root, pageHeader('Career fair settings', event ? event.name : 'Create your first event', picker, board), form, event ? quotaSection(event) : null);
}

/** A company as text: its name, and the id the API and tokens use. */
function companyLabel(name, id) {
  return h('div', { class: 'quota-company' },
    h('span', { class: 'quota-name' }, name || id),
    h('span', { class: 'muted small' }, `Company id: ${id}`));
}

function quotaSection(event) {
  const messages = h('div');
  const rows = h('div', { class: 'quota-rows' });
  const field = (label, input) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input);
  const addRow = (quota) => {
    let companyId = quota.company_id || '';
    // A company that has a quota is shown, not edited: its id is what the quota belongs to.
    // Only a row being added asks for the id of the company to give a quota to.
    const idInput = companyId ? null : h('input', { type: 'text', required: true, placeholder: 'e.g. initech' });
    const company = h('div', { class: 'quota-company-slot' }, companyId ? companyLabel(quota.company_name, companyId) : field('Company id', idInput));
    const amount = h('input', { type: 'number', min: 0, max: 10000, value: String(quota.slot_quota ?? 10) });
    const save = h('button', { type: 'button', class: 'btn btn-secondary btn-small', dataset: { action: 'save-quota' } }, 'Save');
    const row = h('div', { class: 'quota-row', dataset: { company: companyId } }, company, field('Slot quota', amount), save);
    save.addEventListener('click', () => busy(save, messages, async () => {
      const id = companyId || idInput.value.trim();
      if (!id) throw new Error('Enter the company id first.');
      const saved = await api.put(`/events/${event.id}/quotas/${encodeURIComponent(id)}`, { slot_quota: Number(amount.value) });
      const name = (saved.quotas || []).find((q) => q.company_id === id)?.company_name || quota.company_name || id;
      if (!companyId) {
        companyId = id;
        row.dataset.company = id;
        replace(company, companyLabel(name, id));
      }
      showNotice(messages, `Quota saved: ${name} may publish ${amount.value} slots.`, 'success');
    }));
    rows.append(row);
  };
  for (const quota of event.quotas) addRow(quota);
  return h('section', { class: 'card' },
    h('h2', {}, '1-1 slot quotas'),
    h('p', { class: 'muted' }, 'How many slots each company’s employees may publish in total.'),
    rows,
    h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => addRow({}) }, '+ Add a company'),
    messages);
}
