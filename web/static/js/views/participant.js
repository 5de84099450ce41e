// The participant's side: whom to talk to (offers), requests, invitations, My Schedule.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { currentEvent, companyNamer } from '../events.js';
import { calendarDay, initials } from '../format.js';
import { t } from '../i18n.js';
import { TEXT_MAX } from '../limits.js';
import { defaultQuestion, loadQuestions } from '../questions.js';
import { alertBox, busy, chips, emptyState, loading, pageHeader, tabBar, toast } from '../ui.js';
import { experienceName } from './availability.js';
import { chatList, fetchChats } from './chat_lists.js';
import { offersFinder } from './offers_finder.js';
import { feedbackButton } from '../after_chat.js';
import { resumeSection } from '../resume.js';

const TABS = [
  { id: 'offers', label: 'participant.tab.offers' },
  { id: 'invitations', label: 'participant.tab.invitations' },
  { id: 'requests', label: 'participant.tab.requests' },
  { id: 'schedule', label: 'participant.tab.schedule' },
  { id: 'completed', label: 'participant.tab.completed' },
  { id: 'history', label: 'participant.tab.history' },
  { id: 'profile', label: 'participant.tab.profile' },
];

const EMPTY = {
  invitations: ['participant.empty.invitations.title', 'participant.empty.invitations.text'],
  requests: ['participant.empty.requests.title', 'participant.empty.requests.text'],
  schedule: ['participant.empty.schedule.title', 'participant.empty.schedule.text'],
  completed: ['participant.empty.completed.title', 'participant.empty.completed.text'],
  history: ['participant.empty.history.title', 'participant.empty.history.text'],
};

const ACTIVE = new Set(['requested', 'approved', 'confirmed']);

export async function renderParticipant(root, { params, scope }) {
  const tab = TABS.some((each) => each.id === params[0]) ? params[0] : 'offers';
  replace(root, loading());
  const { event } = await currentEvent();
  if (!event) {
    replace(root, alertBox(t('participant.no_event'), 'info'));
    return;
  }
  const questionsLoad = tab === 'offers' ? null : loadQuestions(event.id);
  const { chats, byTab } = await fetchChats(event.id);
  const lists = {
    invitations: byTab.requested.filter((c) => c.initiator === 'employee'),
    requests: [...byTab.requested.filter((c) => c.initiator === 'participant'), ...byTab.in_scheduling],
    completed: byTab.completed,
    history: byTab.history,
  };
  let schedule = null;
  if (tab === 'schedule') {
    schedule = (await api.get(`/me/schedule?event_id=${encodeURIComponent(event.id)}`)).chats;
  }
  const questions = await questionsLoad;
  const counts = {
    invitations: lists.invitations.length,
    requests: lists.requests.filter((c) => c.actions.includes('book')).length || lists.requests.length,
    schedule: byTab.confirmed.length,
  };
  const content = h('div', { class: 'tab-content' });
  replace(
    root,
    pageHeader(t('participant.title'), event.name),
    tabBar(TABS.map((tab) => ({ ...tab, label: t(tab.label), count: counts[tab.id] })), tab, (id) => `#/participant/${id}`),
    content,
  );
  const ctx = {
    role: 'participant',
    timeZone: event.timezone, // the event's: times show in the viewer's zone with it beside
    scope,
    companyName: companyNamer(event),
    questions,
    onChanged: () => window.dispatchEvent(new HashChangeEvent('hashchange')),
  };
  if (tab === 'completed') ctx.extra = (chat) => feedbackButton(chat);
  if (tab === 'offers') {
    renderOffers(content, event, chats, scope);
  } else if (tab === 'profile') {
    replace(content, await resumeSection());
  } else if (tab === 'schedule') {
    chatList(content, schedule, ctx, EMPTY.schedule);
  } else {
    chatList(content, lists[tab], ctx, EMPTY[tab]);
  }
}

function renderOffers(root, event, chats, scope) {
  const activeWith = new Map();
  for (const chat of chats) if (ACTIVE.has(chat.state)) activeWith.set(chat.employee.id, chat);
  offersFinder(root, { event, scope, offerCard: (offer) => offerCard(event, offer, activeWith.get(offer.employee_id)) });
}

const STATE_WORDS = { requested: 'chat.state.requested', approved: 'chat.state.approved', confirmed: 'chat.state.confirmed' };

/** Where an open chat with this employee stands, and the tab that shows it. */
function chatBadge(chat) {
  if (chat.state === 'requested' && chat.initiator === 'employee') return [t('chat.state.invitation'), '#/participant/invitations'];
  return [t(STATE_WORDS[chat.state]), chat.state === 'confirmed' ? '#/participant/schedule' : '#/participant/requests'];
}

function offerCard(event, offer, chat) {
  const p = offer.profile;
  const panel = h('div');
  const facts = [
    p.background ? [t('profile.background'), p.background] : null,
    p.experience_level ? [t('profile.experience'), experienceName(p.experience_level)] : null,
  ].filter(Boolean);
  const [badgeText, badgeHref] = chat ? chatBadge(chat) : [];
  const requestButton = chat
    ? h('a', { class: 'badge badge-info', href: badgeHref }, badgeText)
    : h('button', {
      class: 'btn btn-primary btn-small', type: 'button', dataset: { action: 'request' },
      disabled: offer.free_slots === 0,
      onclick: () => replace(panel, requestForm(event, offer, () => replace(panel))),
    }, t('participant.offers.request'));
  return h('article', { class: 'card offer', dataset: { employeeId: offer.employee_id, person: offer.name } },
    h('div', { class: 'chat-card-head' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(offer.name)),
      h('div', { class: 'chat-card-who' }, h('strong', {}, offer.name), h('span', { class: 'muted' }, offer.headline || '')),
    ),
    facts.map(([label, text]) => h('p', { class: 'chat-detail' }, h('span', { class: 'label' }, t('ui.label', { label })), text)),
    p.languages?.length ? h('div', { class: 'fact-row' }, h('span', { class: 'label' }, t('profile.languages')), chips(p.languages)) : null,
    p.topics?.length ? h('div', { class: 'fact-row' }, h('span', { class: 'label' }, t('profile.topics')), chips(p.topics)) : null,
    h('div', { class: 'offer-foot' },
      h('span', { class: 'muted offer-free' }, t('participant.offers.free_slots', { count: offer.free_slots }),
        offer.free_days?.length ? ` · ${offer.free_days.map(calendarDay).join(', ')}` : ''),
      requestButton),
    panel,
  );
}

function requestForm(event, offer, onClose) {
  const question = offer.profile.custom_question || defaultQuestion();
  const answer = h('textarea', { rows: 3, maxlength: TEXT_MAX, required: Boolean(offer.profile.custom_question), name: 'answer', 'aria-label': question });
  const message = h('textarea', { rows: 2, maxlength: TEXT_MAX, name: 'message', placeholder: t('participant.request.note_placeholder'), 'aria-label': t('participant.request.message') });
  const errors = h('div');
  const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, t('participant.request.send'));
  setTimeout(() => answer.focus(), 0); // the form opens where the person types next
  return h('form', {
    class: 'inline-form request-form',
    onsubmit: (e) => {
      e.preventDefault();
      busy(send, errors, async () => {
        await api.post(`/events/${event.id}/chats`, {
          employee_id: offer.employee_id,
          answer: answer.value.trim(),
          message: message.value.trim(),
        });
        toast(t('participant.request.sent', { name: offer.name }), 'success');
        location.hash = '#/participant/requests';
      });
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, question), answer),
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('participant.request.message_optional')), message),
  errors,
  h('div', { class: 'row' }, send, h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: onClose }, t('ui.cancel'))));
}
