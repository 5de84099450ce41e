// The participant's answer is shown under the question it answers, on every page alike: the
// employee's own question, or the one Duet asks when they have none (the request form's label).

import { api } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';

/** The question Duet asks when the employee has none, in the reader's language. */
export function defaultQuestion() {
  return t('questions.default');
}

/**
 * The question a chat's answer replies to. The chat's own `question`, once the server sends it
 * (the question as it was asked); until then the employee's current question from the offers.
 */
export function questionOf(chat, questions) {
  if (typeof chat.question === 'string') return chat.question || defaultQuestion();
  return (questions && questions.get(chat.employee.id)) || defaultQuestion();
}

/** employee id → their question, from the event's offers (empty when it cannot be read). */
export async function loadQuestions(eventId) {
  try {
    const { offers } = await api.get(`/events/${eventId}/offers`);
    return new Map(offers.map((o) => [o.employee_id, o.profile.custom_question || '']));
  } catch {
    return new Map();
  }
}

/** The answer under its question, or null when there is no answer (an invitation). */
export function answerLine(chat, questions) {
  if (!chat.answer) return null;
  return h('p', { class: 'chat-detail chat-answer' },
    h('span', { class: 'label' }, questionOf(chat, questions)), ' ', h('span', { class: 'answer-text' }, chat.answer));
}
