// One chat request as a card: who, when, its state, and the actions the API allows right now.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { initials, slotRange, minutesBetween } from './format.js';
import { joinControl } from './join_control.js';
import { calendarLink } from './calendar.js';
import { TEXT_MAX } from './limits.js';
import { answerLine } from './questions.js';
import { slotPicker } from './slot_picker.js';
import { badge, busy, toast } from './ui.js';

const STATE_LABELS = {
  requested: ['Requested', 'info'],
  approved: ['Approved · pick a time', 'warn'],
  confirmed: ['Confirmed', 'ok'],
  completed: ['Completed', 'done'],
  no_show: ['Missed', 'muted'],
  declined: ['Declined', 'muted'],
  withdrawn: ['Withdrawn', 'muted'],
  cancelled: ['Cancelled', 'muted'],
};

function otherPerson(chat, viewerRole) {
  return viewerRole === 'employee' ? chat.participant : chat.employee;
}

function stateBadge(chat, viewerRole) {
  let [label, kind] = STATE_LABELS[chat.state] || [chat.state, ''];
  if (chat.state === 'requested' && chat.initiator === 'employee') {
    label = viewerRole === 'participant' ? 'Invitation' : 'Invited';
  }
  if (chat.state === 'approved' && viewerRole === 'employee') label = 'Approved · waiting for a time';
  return badge(label, kind);
}

function detailLines(chat, questions) {
  const lines = [];
  if (chat.request_message) lines.push(['Message', chat.request_message]);
  if (chat.decline_message) lines.push(['Reply', chat.decline_message]);
  if (chat.cancel_reason) lines.push(['Reason', chat.cancel_reason]);
  if (chat.no_show_side) lines.push(['Note', `The ${chat.no_show_side} did not join.`]);
  return [
    answerLine(chat, questions),
    lines.map(([label, text]) => h('p', { class: 'chat-detail' }, h('span', { class: 'label' }, `${label}: `), text)),
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
    h('div', { class: 'row' }, submit, h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: onClose }, 'Back')),
  );
  setTimeout(() => input.focus(), 0);
  return form;
}

/**
 * ctx: {role: 'employee'|'participant', timeZone, scope, onChanged(chat), questions?, companyName?}
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
      const label = chat.initiator === 'employee' ? 'Accept' : 'Approve';
      actionButton(label, 'approve', 'btn-primary', (b) =>
        busy(b, errors, () => run('approve', {}, label === 'Accept' ? 'Invitation accepted. Pick a time next.' : 'Approved. The participant can now pick a time.')),
      );
    } else if (action === 'decline') {
      actionButton('Decline', 'decline', 'btn-secondary', () =>
        replace(panel, textForm({
          label: 'A short message for them',
          placeholder: ctx.role === 'employee' ? 'Thanks for your interest! …' : 'Sorry, I cannot make it…',
          submitLabel: 'Send and decline',
          danger: true,
          onSubmit: (message) => run('decline', { message }, 'Declined.'),
          onClose: () => replace(panel),
        })),
      );
    } else if (action === 'withdraw') {
      actionButton('Withdraw', 'withdraw', 'btn-secondary', (b) =>
        busy(b, errors, () => run('withdraw', {}, 'Request withdrawn.')),
      );
    } else if (action === 'book' || action === 'reschedule') {
      const label = action === 'book' ? 'Pick a time' : 'Reschedule';
      actionButton(label, action, action === 'book' ? 'btn-primary' : 'btn-secondary', () =>
        replace(panel, slotPicker({
          eventId: chat.event_id,
          employeeId: chat.employee.id,
          timeZone: ctx.timeZone,
          exceptSlotId: slot ? slot.id : null,
          chatId: chat.id,
          onPick: (picked) => run(action, { slot_id: picked.id }, action === 'book' ? 'Booked. See you there!' : 'Moved to the new time.'),
          onCancel: () => replace(panel),
        })),
      );
    } else if (action === 'cancel') {
      actionButton('Cancel chat', 'cancel', 'btn-ghost btn-danger-text', () =>
        replace(panel, textForm({
          label: 'Why are you cancelling?',
          placeholder: 'Something came up…',
          submitLabel: 'Cancel this chat',
          danger: true,
          onSubmit: (reason) => run('cancel', { reason }, 'Chat cancelled.'),
          onClose: () => replace(panel),
        })),
      );
    }
  }

  const join = joinControl(chat, { scope: ctx.scope, timeZone: ctx.timeZone, onUpdate: ctx.onChanged });
  const showCalendar = chat.ics_url && chat.state === 'confirmed';

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
          ? h('span', { class: 'chat-time' }, `${slotRange(slot, ctx.timeZone)} · ${minutesBetween(slot.starts_at, slot.ends_at)} min`)
          : h('span', { class: 'chat-time muted' }, 'No time picked yet'),
      ),
      stateBadge(chat, ctx.role),
    ),
    detailLines(chat, ctx.questions),
    join || showCalendar || buttons.length
      ? h('div', { class: 'chat-card-actions' }, join, showCalendar ? calendarLink(chat) : null, buttons)
      : null,
    errors,
    panel,
  );
}
