// After the chat: the employee's notes, rating, next step, no-show mark and follow-up invitation
// on a Completed card (shared with colleagues, never with anyone else), and the participant's
// short feedback form (organizers see it only summed up per company).

import { t } from './i18n.js';
import { api } from './api.js';
import { h, replace } from './dom.js';
import { TEXT_MAX } from './limits.js';
import { serverNow } from './server_clock.js';
import { busy, showNotice, toast } from './ui.js';

const NEXT_STEPS = [
  ['', 'after.next.none'],
  ['follow_up', 'after.next.follow_up'],
  ['interview', 'after.next.interview'],
  ['offer', 'after.next.offer'],
  ['not_a_fit', 'after.next.not_a_fit'],
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
  const notes = h('textarea', { rows: 3, maxlength: NOTES_MAX, 'aria-label': t('after.notes_on', { name: chat.participant.name }), value: saved.notes, dataset: { field: 'notes' } });
  const rating = h('select', { 'aria-label': t('after.rating'), dataset: { field: 'rating' } },
    h('option', { value: '', selected: saved.rating === null }, t('after.no_rating')),
    [1, 2, 3, 4, 5].map((n) => h('option', { value: String(n), selected: saved.rating === n }, `${'★'.repeat(n)} (${n})`)));
  const nextStep = h('select', { 'aria-label': t('after.next_step'), dataset: { field: 'next_step' } },
    NEXT_STEPS.map(([value, label]) => h('option', { value, selected: saved.next_step === value }, t(label))));
  const save = h('button', { class: 'btn btn-secondary btn-small', type: 'submit', dataset: { action: 'save-notes' } }, t('after.save_notes'));
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
        showNotice(messages, t('after.notes_saved'), 'success');
      });
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('after.private_notes')), notes),
  h('div', { class: 'row' },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('after.rating')), rating),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('after.next_step')), nextStep)),
  h('div', { class: 'row' }, save));

  const actions = h('div', { class: 'row after-chat-actions' });
  const over = chat.slot && serverNow() >= Date.parse(chat.slot.ends_at);
  if (over) actions.append(noShowButton(chat, company, messages));
  const followUp = h('div');
  actions.append(h('button', {
    class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'follow-up' },
    onclick: () => replace(followUp, followUpForm(chat, () => replace(followUp))),
  }, t('after.follow_up')));
  return h('div', { class: 'after-chat' }, form, actions, followUp, messages);
}

function noShowButton(chat, company, messages) {
  const marked = () => company.marks.get(chat.id)?.participant_no_show === true;
  const button = h('button', { class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'no-show' } });
  const label = () => { button.textContent = marked() ? t('after.no_show_undo') : t('after.no_show', { name: chat.participant.name }); };
  label();
  button.addEventListener('click', () => busy(button, messages, async () => {
    const mark = await api.put(`/chats/${chat.id}/no-show`, { participant_no_show: !marked() });
    company.marks.set(chat.id, mark);
    showNotice(messages, mark.participant_no_show ? t('after.no_show_marked') : t('after.no_show_removed'), 'success');
  }).then(label));
  return button;
}

function followUpForm(chat, onClose) {
  const message = h('textarea', { rows: 2, maxlength: TEXT_MAX, 'aria-label': t('after.follow_up_message'), placeholder: t('after.follow_up_placeholder') });
  const errors = h('div');
  const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, t('after.send_invitation'));
  return h('form', {
    class: 'inline-form',
    onsubmit: (event) => {
      event.preventDefault();
      busy(send, errors, async () => {
        await api.post(`/chats/${chat.id}/follow-up`, { message: message.value.trim() });
        toast(t('after.follow_up_sent', { name: chat.participant.name }), 'success');
        location.hash = '#/employee/requested';
      });
    },
  }, message, errors, h('div', { class: 'row' }, send, h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: onClose }, t('after.back'))));
}

/** The participant's feedback: 1-5 and a sentence; `given` is an earlier answer, if any. */
export function feedbackForm(chat, given = null) {
  const messages = h('div');
  const name = `score-${chat.id}`;
  const scores = [1, 2, 3, 4, 5].map((n) => h('label', { class: 'check' },
    h('input', { type: 'radio', name, value: String(n), checked: given?.score === n, required: true }), String(n)));
  const comment = h('input', { type: 'text', maxlength: COMMENT_MAX, value: given?.comment || '', 'aria-label': t('after.feedback_sentence'), placeholder: t('after.feedback_sentence_optional') });
  const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit', dataset: { action: 'send-feedback' } }, given ? t('after.feedback_update') : t('after.feedback_send'));
  return h('form', {
    class: 'inline-form feedback-form',
    dataset: { chatId: chat.id },
    onsubmit: (event) => {
      event.preventDefault();
      busy(send, messages, async () => {
        const picked = scores.map((l) => l.querySelector('input')).find((i) => i.checked);
        if (!picked) throw new Error(t('after.feedback_pick'));
        await api.put(`/chats/${chat.id}/feedback`, { score: Number(picked.value), comment: comment.value.trim() });
        showNotice(messages, t('after.feedback_thanks'), 'success');
      });
    },
  },
  h('fieldset', { class: 'scores' }, h('legend', { class: 'field-label' }, t('after.feedback_question', { name: chat.employee.name })), scores),
  comment,
  h('div', { class: 'row' }, send),
  messages);
}

/** On a participant's Completed card: a button that opens the form (with any earlier answer). */
export function feedbackButton(chat) {
  const host = h('div');
  const open = h('button', { class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'feedback' } }, t('after.feedback_give'));
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
