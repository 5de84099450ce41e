// The participant's side: whom to talk to (offers), requests, invitations, My Schedule.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { currentEvent, companyNamer } from '../events.js';
import { initials } from '../format.js';
import { TEXT_MAX } from '../limits.js';
import { DEFAULT_QUESTION, loadQuestions } from '../questions.js';
import { alertBox, busy, chips, emptyState, loading, pageHeader, tabBar, toast } from '../ui.js';
import { chatList, fetchChats } from './chat_lists.js';

const TABS = [
  { id: 'offers', label: 'Companies' },
  { id: 'invitations', label: 'Invitations' },
  { id: 'requests', label: 'My Requests' },
  { id: 'schedule', label: 'My Schedule' },
  { id: 'completed', label: 'Completed' },
  { id: 'history', label: 'History' },
];

const EMPTY = {
  invitations: ['No invitations', 'When an employee invites you to a chat, it shows up here.'],
  requests: ['No open requests', 'Browse the companies and request a chat with someone.'],
  schedule: ['Nothing scheduled yet', 'Once a request is approved and you pick a time, the chat is listed here.'],
  completed: ['No chats completed yet', 'The people you have talked to will be listed here.'],
  history: ['No history', 'Declined, withdrawn and cancelled requests are kept here.'],
};

const ACTIVE = new Set(['requested', 'approved', 'confirmed']);

export async function renderParticipant(root, { params, scope }) {
  const tab = TABS.some((t) => t.id === params[0]) ? params[0] : 'offers';
  replace(root, loading());
  const { event } = await currentEvent();
  if (!event) {
    replace(root, alertBox('There is no career fair open yet.', 'info'));
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
    pageHeader('1-1 Chats', event.name),
    tabBar(TABS.map((t) => ({ ...t, count: counts[t.id] })), tab, (id) => `#/participant/${id}`),
    content,
  );
  const ctx = {
    role: 'participant',
    timeZone: event.timezone,
    scope,
    companyName: companyNamer(event),
    questions,
    onChanged: () => window.dispatchEvent(new HashChangeEvent('hashchange')),
  };
  if (tab === 'offers') {
    await renderOffers(content, event, chats);
  } else if (tab === 'schedule') {
    chatList(content, schedule, ctx, EMPTY.schedule);
  } else {
    chatList(content, lists[tab], ctx, EMPTY[tab]);
  }
}

async function renderOffers(root, event, chats) {
  replace(root, loading('Loading the companies…'));
  const { offers } = await api.get(`/events/${event.id}/offers`);
  if (!offers.length) {
    replace(root, emptyState('No one is offering chats yet', 'Employees publish their free times during the fair. Check back soon.'));
    return;
  }
  const activeWith = new Map();
  for (const chat of chats) if (ACTIVE.has(chat.state)) activeWith.set(chat.employee.id, chat);
  const byCompany = new Map();
  for (const offer of offers) {
    if (!byCompany.has(offer.company_name)) byCompany.set(offer.company_name, []);
    byCompany.get(offer.company_name).push(offer);
  }
  replace(
    root,
    [...byCompany].map(([company, people]) =>
      h('section', { class: 'company', dataset: { company } },
        h('h2', { class: 'company-name' }, h('span', { class: 'company-logo', 'aria-hidden': 'true' }, initials(company)), company),
        h('div', { class: 'offer-grid' }, people.map((offer) => offerCard(event, offer, activeWith.get(offer.employee_id))))),
    ),
  );
}

const STATE_WORDS = { requested: 'Requested', approved: 'Approved · pick a time', confirmed: 'Confirmed' };

/** Where an open chat with this employee stands, and the tab that shows it. */
function chatBadge(chat) {
  if (chat.state === 'requested' && chat.initiator === 'employee') return ['Invitation', '#/participant/invitations'];
  return [STATE_WORDS[chat.state], chat.state === 'confirmed' ? '#/participant/schedule' : '#/participant/requests'];
}

function offerCard(event, offer, chat) {
  const p = offer.profile;
  const panel = h('div');
  const facts = [
    p.background ? ['Background', p.background] : null,
    p.experience_level ? ['Experience', p.experience_level] : null,
  ].filter(Boolean);
  const [badgeText, badgeHref] = chat ? chatBadge(chat) : [];
  const requestButton = chat
    ? h('a', { class: 'badge badge-info', href: badgeHref }, badgeText)
    : h('button', {
      class: 'btn btn-primary btn-small', type: 'button', dataset: { action: 'request' },
      disabled: offer.free_slots === 0,
      onclick: () => replace(panel, requestForm(event, offer, () => replace(panel))),
    }, 'Request a chat');
  return h('article', { class: 'card offer', dataset: { employeeId: offer.employee_id, person: offer.name } },
    h('div', { class: 'chat-card-head' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(offer.name)),
      h('div', { class: 'chat-card-who' }, h('strong', {}, offer.name), h('span', { class: 'muted' }, offer.headline || '')),
    ),
    facts.map(([label, text]) => h('p', { class: 'chat-detail' }, h('span', { class: 'label' }, `${label}: `), text)),
    p.languages?.length ? h('div', { class: 'fact-row' }, h('span', { class: 'label' }, 'Languages'), chips(p.languages)) : null,
    p.topics?.length ? h('div', { class: 'fact-row' }, h('span', { class: 'label' }, 'Topics'), chips(p.topics)) : null,
    h('div', { class: 'offer-foot' },
      h('span', { class: 'muted' }, `${offer.free_slots} free slot${offer.free_slots === 1 ? '' : 's'}`),
      requestButton),
    panel,
  );
}

function requestForm(event, offer, onClose) {
  const question = offer.profile.custom_question || DEFAULT_QUESTION;
  const answer = h('textarea', { rows: 3, maxlength: TEXT_MAX, required: Boolean(offer.profile.custom_question), name: 'answer', 'aria-label': question });
  const message = h('textarea', { rows: 2, maxlength: TEXT_MAX, name: 'message', placeholder: 'Optional: a short note', 'aria-label': 'Message' });
  const errors = h('div');
  const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, 'Send request');
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
        toast(`Request sent to ${offer.name}. You will pick a time once they approve.`, 'success');
        location.hash = '#/participant/requests';
      });
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, question), answer),
  h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Message (optional)'), message),
  errors,
  h('div', { class: 'row' }, send, h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: onClose }, 'Cancel')));
}
