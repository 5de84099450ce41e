// One chat request as a card: who, when, its state, and the actions the API allows right now.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { initials, slotRange, minutesBetween } from './format.js';
import { t } from './i18n.js';
import { joinControl } from './join_control.js';
import { calendarLink } from './calendar.js';
import { TEXT_MAX } from './limits.js';
import { answerLine } from './questions.js';
import { resumeLink } from './resume.js';
import { slotPicker } from './slot_picker.js';
import { badge, busy, toast } from './ui.js';

const STATE_LABELS = {
  requested: ['chat.state.requested', 'info'],
  approved: ['chat.state.approved', 'warn'],
  confirmed: ['chat.state.confirmed', 'ok'],
  completed: ['chat.state.completed', 'done'],
  no_show: ['chat.state.no_show', 'muted'],
  declined: ['chat.state.declined', 'muted'],
  withdrawn: ['chat.state.withdrawn', 'muted'],
  cancelled: ['chat.state.cancelled', 'muted'],
};

// Who did not join (rooms/attendance.py): "employee", "participant" or "both".
const NO_SHOW_KEYS = {
  employee: 'card.no_show.employee',
  participant: 'card.no_show.participant',
  both: 'card.no_show.both',
};

function otherPerson(chat, viewerRole) {
  return viewerRole === 'employee' ? chat.participant : chat.employee;
}

function stateBadge(chat, viewerRole) {
  const [key, kind] = STATE_LABELS[chat.state] || [null, ''];
  let label = key ? t(key) : chat.state;
  if (chat.state === 'requested' && chat.initiator === 'employee') {
    label = t(viewerRole === 'participant' ? 'chat.state.invitation' : 'chat.state.invited');
  }
  if (chat.state === 'approved' && viewerRole === 'employee') label = t('chat.state.approved_waiting');
  return badge(label, kind);
}

function detailLines(chat, questions) {
  const lines = [];
  if (chat.request_message) lines.push([t('card.message'), chat.request_message]);
  if (chat.decline_message) lines.push([t('card.reply'), chat.decline_message]);
  if (chat.cancel_reason) lines.push([t('card.reason'), chat.cancel_reason]);
  if (chat.no_show_side) lines.push([t('card.note'), t(NO_SHOW_KEYS[chat.no_show_side] || NO_SHOW_KEYS.both)]);
  return [
    answerLine(chat, questions),
    lines.map(([label, text]) => h('p', { class: 'chat-detail' }, h('span', { class: 'label' }, t('ui.label', { label })), text)),
  ];
}

/** A small inline form asking for a sentence (decline message, cancel reason). */
function textForm({ label, placeholder, submitLabel, danger, onSubmit, onClose }) {
  const input = h('textarea', { rows: 2, maxlength: TEXT_MAX, placeholder, required: true, 'aria-label': label });
  const errors = h('div');
  const submit = h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'} btn-small`, type: 'submit' }, submitLabel);
  const form = h(
    'form',
    {
      class: 'inline-form',
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, errors, () => onSubmit(input.value.trim()));
      },
    },
    h('label', {}, label, input),
    errors,
    h('div', { class: 'row' }, submit, h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: onClose }, t('ui.back'))),
  );
  setTimeout(() => input.focus(), 0);
  return form;
}

/**
 * ctx: {role: 'employee'|'participant', timeZone, scope, onChanged(chat), questions?, companyName?,
 *   extra?(chat): more for the card's foot (the Completed tab's notes or feedback)}
 */
export function chatCard(chat, ctx) {
  const person = otherPerson(chat, ctx.role);
  const panel = h('div', { class: 'card-panel' });
  const errors = h('div');
  const slot = chat.slot;

  async function run(action, body, doneMessage) {
    const updated = await api.post(`/chats/${chat.id}/${action}`, body);
    toast(doneMessage, 'success');
    ctx.onChanged(updated);
  }

  const buttons = [];
  const actionButton = (label, action, kind, handler) => {
    const button = h('button', { class: `btn btn-small ${kind}`, type: 'button', dataset: { action } }, label);
    button.addEventListener('click', () => handler(button));
    buttons.push(button);
  };

  for (const action of chat.actions) {
    if (action === 'approve') {
      const invited = chat.initiator === 'employee';
      actionButton(t(invited ? 'card.accept' : 'card.approve'), 'approve', 'btn-primary', (b) =>
        busy(b, errors, () => run('approve', {}, t(invited ? 'card.accepted' : 'card.approved'))),
      );
    } else if (action === 'decline') {
      actionButton(t('card.decline'), 'decline', 'btn-secondary', () =>
        replace(panel, textForm({
          label: t('card.decline.label'),
          placeholder: t(ctx.role === 'employee' ? 'card.decline.placeholder_employee' : 'card.decline.placeholder_participant'),
          submitLabel: t('card.decline.submit'),
          danger: true,
          onSubmit: (message) => run('decline', { message }, t('card.declined')),
          onClose: () => replace(panel),
        })),
      );
    } else if (action === 'withdraw') {
      actionButton(t('card.withdraw'), 'withdraw', 'btn-secondary', (b) =>
        busy(b, errors, () => run('withdraw', {}, t('card.withdrawn'))),
      );
    } else if (action === 'book' || action === 'reschedule') {
      const label = t(action === 'book' ? 'card.book' : 'card.reschedule');
      actionButton(label, action, action === 'book' ? 'btn-primary' : 'btn-secondary', () =>
        replace(panel, slotPicker({
          eventId: chat.event_id,
          employeeId: chat.employee.id,
          timeZone: ctx.timeZone,
          exceptSlotId: slot ? slot.id : null,
          chatId: chat.id,
          onPick: (picked) => run(action, { slot_id: picked.id }, t(action === 'book' ? 'card.booked' : 'card.moved')),
          onCancel: () => replace(panel),
        })),
      );
    } else if (action === 'cancel') {
      actionButton(t('card.cancel'), 'cancel', 'btn-ghost btn-danger-text', () =>
        replace(panel, textForm({
          label: t('card.cancel.label'),
          placeholder: t('card.cancel.placeholder'),
          submitLabel: t('card.cancel.submit'),
          danger: true,
          onSubmit: (reason) => run('cancel', { reason }, t('card.cancelled')),
          onClose: () => replace(panel),
        })),
      );
    }
  }

  const join = joinControl(chat, { scope: ctx.scope, timeZone: ctx.timeZone, onUpdate: ctx.onChanged });
  const showCalendar = chat.ics_url && chat.state === 'confirmed';
  const resume = ctx.role === 'employee' ? resumeLink(chat) : null;

  return h(
    'article',
    { class: `card chat-card state-${chat.state}`, dataset: { chatId: chat.id, state: chat.state, person: person.name } },
    h(
      'div',
      { class: 'chat-card-head' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(person.name)),
      h(
        'div',
        { class: 'chat-card-who' },
        h('strong', {}, person.name),
        ctx.companyName ? h('span', { class: 'muted' }, ctx.companyName(chat.company_id)) : null,
        slot
          ? h('span', { class: 'chat-time' }, t('card.time', { range: slotRange(slot, ctx.timeZone), minutes: minutesBetween(slot.starts_at, slot.ends_at) }))
          : h('span', { class: 'chat-time muted' }, t('card.no_time')),
      ),
      stateBadge(chat, ctx.role),
    ),
    detailLines(chat, ctx.questions),
    join || showCalendar || resume || buttons.length
      ? h('div', { class: 'chat-card-actions' }, join, showCalendar ? calendarLink(chat) : null, resume, buttons)
      : null,
    errors,
    panel,
    ctx.extra ? ctx.extra(chat) : null,
  );
}
