// After the chat: the employee's notes, rating, next step, no-show mark and follow-up invitation
// on a Completed card (shared with colleagues, never with anyone else), and the participant's
// short feedback form (organizers see it only summed up per company).

import { api } from './api.js';
import { h, replace } from './dom.js';
import { TEXT_MAX } from './limits.js';
import { serverNow } from './server_clock.js';
import { busy, showNotice, toast } from './ui.js';

const NEXT_STEPS = [
  ['', 'No next step yet'],
  ['follow_up', 'Follow up'],
  ['interview', 'Invite to interview'],
  ['offer', 'Make an offer'],
  ['not_a_fit', 'Not a fit'],
];
const NOTES_MAX = 5000;
const COMMENT_MAX = 280;

/**
 * The company's panel on one past chat. `company` = {eventId, notes: Map(participantId ->
 * notes), marks: Map(chatId -> mark)}, loaded once per tab from /events/{id}/notes.
 */
export function companyPanel(chat, company) {
  const saved = company.notes.get(chat.participant.id) || { notes: '', rating: null, next_step: '' };
  const messages = h('div');
  const notes = h('textarea', { rows: 3, maxlength: NOTES_MAX, 'aria-label': `Notes on ${chat.participant.name}`, value: saved.notes, dataset: { field: 'notes' } });
  const rating = h('select', { 'aria-label': 'Rating', dataset: { field: 'rating' } },
    h('option', { value: '', selected: saved.rating === null }, 'No rating'),
    [1, 2, 3, 4, 5].map((n) => h('option', { value: String(n), selected: saved.rating === n }, `${'★'.repeat(n)} (${n})`)));
  const nextStep = h('select', { 'aria-label': 'Next step', dataset: { field: 'next_step' } },
    NEXT_STEPS.map(([value, label]) => h('option', { value, selected: saved.next_step === value }, label)));
  const save = h('button', { class: 'btn btn-secondary btn-small', type: 'submit', dataset: { action: 'save-notes' } }, 'Save notes');
  const form = h('form', {
    class: 'inline-form notes-form',
    onsubmit: (event) => {
      event.preventDefault();
      busy(save, messages, async () => {
        const stored = await api.put(`/events/${company.eventId}/notes/${encodeURIComponent(chat.participant.id)}`, {
          notes: notes.value,
          rating: rating.value ? Number(rating.value) : null,
          next_step: nextStep.value,
        });
        company.notes.set(chat.participant.id, stored);
        showNotice(messages, 'Notes saved. Only your company can see them.', 'success');
      });
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Private notes (your company only)'), notes),
  h('div', { class: 'row' },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Rating'), rating),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Next step'), nextStep)),
  h('div', { class: 'row' }, save));

  const actions = h('div', { class: 'row after-chat-actions' });
  const over = chat.slot && serverNow() >= Date.parse(chat.slot.ends_at);
  if (over) actions.append(noShowButton(chat, company, messages));
  const followUp = h('div');
  actions.append(h('button', {
    class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'follow-up' },
    onclick: () => replace(followUp, followUpForm(chat, () => replace(followUp))),
  }, 'Invite to a follow-up chat'));
  return h('div', { class: 'after-chat' }, form, actions, followUp, messages);
}

function noShowButton(chat, company, messages) {
  const marked = () => company.marks.get(chat.id)?.participant_no_show === true;
  const button = h('button', { class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'no-show' } });
  const label = () => { button.textContent = marked() ? 'Undo “did not come”' : `${chat.participant.name} did not come`; };
  label();
  button.addEventListener('click', () => busy(button, messages, async () => {
    const mark = await api.put(`/chats/${chat.id}/no-show`, { participant_no_show: !marked() });
    company.marks.set(chat.id, mark);
    showNotice(messages, mark.participant_no_show ? 'Marked as a no-show.' : 'No-show mark removed.', 'success');
  }).then(label));
  return button;
}

function followUpForm(chat, onClose) {
  const message = h('textarea', { rows: 2, maxlength: TEXT_MAX, 'aria-label': 'Message', placeholder: 'Thanks for the chat! Let’s talk again about…' });
  const errors = h('div');
  const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, 'Send invitation');
  return h('form', {
    class: 'inline-form',
    onsubmit: (event) => {
      event.preventDefault();
      busy(send, errors, async () => {
        await api.post(`/chats/${chat.id}/follow-up`, { message: message.value.trim() });
        toast(`Follow-up invitation sent to ${chat.participant.name}.`, 'success');
        location.hash = '#/employee/requested';
      });
    },
  }, message, errors, h('div', { class: 'row' }, send, h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: onClose }, 'Back')));
}

/** The participant's feedback: 1-5 and a sentence; `given` is an earlier answer, if any. */
export function feedbackForm(chat, given = null) {
  const messages = h('div');
  const name = `score-${chat.id}`;
  const scores = [1, 2, 3, 4, 5].map((n) => h('label', { class: 'check' },
    h('input', { type: 'radio', name, value: String(n), checked: given?.score === n, required: true }), String(n)));
  const comment = h('input', { type: 'text', maxlength: COMMENT_MAX, value: given?.comment || '', 'aria-label': 'One sentence about the chat', placeholder: 'One sentence about the chat (optional)' });
  const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit', dataset: { action: 'send-feedback' } }, given ? 'Update feedback' : 'Send feedback');
  return h('form', {
    class: 'inline-form feedback-form',
    dataset: { chatId: chat.id },
    onsubmit: (event) => {
      event.preventDefault();
      busy(send, messages, async () => {
        const picked = scores.map((l) => l.querySelector('input')).find((i) => i.checked);
        if (!picked) throw new Error('Pick a score from 1 to 5 first.');
        await api.put(`/chats/${chat.id}/feedback`, { score: Number(picked.value), comment: comment.value.trim() });
        showNotice(messages, 'Thank you! The organizer sees feedback only summed up per company.', 'success');
      });
    },
  },
  h('fieldset', { class: 'scores' }, h('legend', { class: 'field-label' }, `How was your chat with ${chat.employee.name}? (1 = poor, 5 = great)`), scores),
  comment,
  h('div', { class: 'row' }, send),
  messages);
}

/** On a participant's Completed card: a button that opens the form (with any earlier answer). */
export function feedbackButton(chat) {
  const host = h('div');
  const open = h('button', { class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'feedback' } }, 'Give feedback');
  open.addEventListener('click', () => busy(open, host, async () => {
    let given = null;
    try {
      given = await api.get(`/chats/${chat.id}/feedback`);
    } catch (err) {
      if (err.status !== 404) throw err;
    }
    replace(host, feedbackForm(chat, given));
    open.remove();
  }));
  return h('div', { class: 'feedback-host' }, open, host);
}
