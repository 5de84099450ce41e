// The employee's "1-1 Chat" area: availability and quota, then the chats by tab, and invitations.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { currentEvent, companyNamer } from '../events.js';
import { initials } from '../format.js';
import { TEXT_MAX } from '../limits.js';
import { loadQuestions } from '../questions.js';
import { session } from '../session.js';
import { alertBox, busy, emptyState, loading, pageHeader, tabBar, toast } from '../ui.js';
import { quotaBox, renderAvailability } from './availability.js';
import { chatList, fetchChats } from './chat_lists.js';
import { companyPanel } from '../after_chat.js';
import { downloadLink } from '../downloads.js';

const TABS = [
  { id: 'availability', label: 'Availability' },
  { id: 'requested', label: 'Requested' },
  { id: 'in_scheduling', label: 'In Scheduling' },
  { id: 'confirmed', label: 'Confirmed' },
  { id: 'completed', label: 'Completed' },
  { id: 'history', label: 'History' },
  { id: 'invite', label: 'Invite a participant' },
];

const EMPTY = {
  requested: ['No requests waiting', 'When participants ask for a chat, their requests show up here.'],
  in_scheduling: ['Nothing in scheduling', 'Approved requests wait here until the participant picks a time.'],
  confirmed: ['No confirmed chats yet', 'Booked chats appear here with their Join button.'],
  completed: ['No chats completed yet', 'Everyone you have spoken to will be listed here.'],
  history: ['No history', 'Declined, withdrawn and cancelled chats are kept here.'],
};

export async function renderEmployee(root, { params, scope }) {
  const tab = TABS.some((t) => t.id === params[0]) ? params[0] : 'availability';
  replace(root, loading());
  const { event } = await currentEvent();
  if (!event) {
    replace(root, alertBox('There is no career fair set up yet. Ask the organizer to create one.', 'info'));
    return;
  }
  const me = session.user;
  const { byTab } = await fetchChats(event.id);
  const tabs = TABS.filter((t) => t.id !== 'invite' || event.employee_requests_allowed).map((t) => ({
    ...t,
    count: t.id === 'requested' ? byTab.requested.filter((c) => c.actions.includes('approve')).length : byTab[t.id]?.length,
  }));
  const quotaHost = h('div', { class: 'quota-host' });
  const content = h('div', { class: 'tab-content' });
  replace(
    root,
    pageHeader('1-1 Chat', `${event.name} · ${companyNamer(event)(me?.company_id)}`),
    quotaHost,
    tabBar(tabs, tab, (id) => `#/employee/${id}`),
    content,
  );
  const ctx = {
    role: 'employee',
    timeZone: event.timezone,
    scope,
    onChanged: () => window.dispatchEvent(new HashChangeEvent('hashchange')),
  };
  const showQuota = (figure, pending) => replace(quotaHost, quotaBox(figure, pending));
  if (tab === 'availability') {
    await renderAvailability(content, { event, scope, onQuota: showQuota });
    return;
  }
  api.get(`/events/${event.id}/quota`).then((figure) => showQuota(figure, 0)).catch(() => {});
  if (tab === 'invite') {
    await renderInvite(content, event, byTab);
    return;
  }
  ctx.questions = await loadQuestions(event.id);
  if (tab === 'completed') {
    const { notes, marks } = await api.get(`/events/${event.id}/notes`);
    const company = {
      eventId: event.id,
      notes: new Map(notes.map((n) => [n.participant_id, n])),
      marks: new Map(marks.map((m) => [m.chat_id, m])),
    };
    ctx.extra = (chat) => companyPanel(chat, company);
    const exportLink = downloadLink('Export our chats (CSV)', `/api/v1/events/${event.id}/export/company.csv`, `duet-${me?.company_id || 'company'}-chats.csv`, 'text/csv', 'export-company');
    chatList(content, byTab[tab], ctx, EMPTY[tab]);
    content.prepend(h('div', { class: 'row tab-tools' }, exportLink));
    return;
  }
  chatList(content, byTab[tab], ctx, EMPTY[tab]);
}

async function renderInvite(root, event, byTab) {
  replace(root, loading('Loading participants…'));
  const { participants } = await api.get(`/events/${event.id}/participants`);
  const active = new Map();
  for (const chat of [...byTab.requested, ...byTab.in_scheduling, ...byTab.confirmed]) active.set(chat.participant.id, chat);
  if (!participants.length) {
    replace(root, emptyState('No participants yet', 'People who register for the fair appear here.'));
    return;
  }
  replace(
    root,
    h('p', { class: 'muted' }, 'Invite a participant you would like to talk to. They accept and pick one of your free slots.'),
    h('div', { class: 'card-list people-list' }, participants.map((person) => inviteRow(event, person, active.get(person.id)))),
  );
}

function inviteRow(event, person, chat) {
  const panel = h('div');
  const errors = h('div');
  const action = chat
    ? h('span', { class: 'badge badge-info' }, chat.state === 'confirmed' ? 'Confirmed' : chat.initiator === 'employee' ? 'Invited' : 'Requested you')
    : h('button', {
      class: 'btn btn-secondary btn-small', type: 'button', dataset: { action: 'invite' },
      onclick: () => {
        const message = h('textarea', { rows: 2, maxlength: TEXT_MAX, placeholder: 'Hi! I saw your profile and would love to chat about…', 'aria-label': 'Message' });
        const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, 'Send invitation');
        replace(panel, h('form', {
          class: 'inline-form',
          onsubmit: (e) => {
            e.preventDefault();
            busy(send, errors, async () => {
              await api.post(`/events/${event.id}/chats`, { participant_id: person.id, message: message.value.trim() });
              toast(`Invitation sent to ${person.name}.`, 'success');
              window.dispatchEvent(new HashChangeEvent('hashchange'));
            });
          },
        }, message, errors, h('div', { class: 'row' }, send)));
      },
    }, 'Invite');
  return h('article', { class: 'card person-row', dataset: { person: person.name } },
    h('div', { class: 'chat-card-head' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(person.name)),
      h('div', { class: 'chat-card-who' }, h('strong', {}, person.name), h('span', { class: 'muted' }, person.headline || 'Participant')),
      action),
    panel);
}
