// The employee's "1-1 Chat" area: availability and quota, then the chats by tab, and invitations.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { currentEvent, companyNamer } from '../events.js';
import { initials } from '../format.js';
import { t } from '../i18n.js';
import { TEXT_MAX } from '../limits.js';
import { loadQuestions } from '../questions.js';
import { session } from '../session.js';
import { alertBox, busy, emptyState, loading, pageHeader, tabBar, toast } from '../ui.js';
import { quotaBox, renderAvailability } from './availability.js';
import { chatList, fetchChats } from './chat_lists.js';
import { companyPanel } from '../after_chat.js';
import { downloadLink } from '../downloads.js';

const TABS = [
  { id: 'availability', label: 'employee.tab.availability' },
  { id: 'requested', label: 'employee.tab.requested' },
  { id: 'in_scheduling', label: 'employee.tab.in_scheduling' },
  { id: 'confirmed', label: 'employee.tab.confirmed' },
  { id: 'completed', label: 'employee.tab.completed' },
  { id: 'history', label: 'employee.tab.history' },
  { id: 'invite', label: 'employee.tab.invite' },
];

const EMPTY = {
  requested: ['employee.empty.requested.title', 'employee.empty.requested.text'],
  in_scheduling: ['employee.empty.in_scheduling.title', 'employee.empty.in_scheduling.text'],
  confirmed: ['employee.empty.confirmed.title', 'employee.empty.confirmed.text'],
  completed: ['employee.empty.completed.title', 'employee.empty.completed.text'],
  history: ['employee.empty.history.title', 'employee.empty.history.text'],
};

export async function renderEmployee(root, { params, scope }) {
  const tab = TABS.some((each) => each.id === params[0]) ? params[0] : 'availability';
  replace(root, loading());
  const { event } = await currentEvent();
  if (!event) {
    replace(root, alertBox(t('employee.no_event'), 'info'));
    return;
  }
  const me = session.user;
  const { byTab } = await fetchChats(event.id);
  const tabs = TABS.filter((each) => each.id !== 'invite' || event.employee_requests_allowed).map((each) => ({
    ...each,
    label: t(each.label),
    count: each.id === 'requested' ? byTab.requested.filter((c) => c.actions.includes('approve')).length : byTab[each.id]?.length,
  }));
  const quotaHost = h('div', { class: 'quota-host' });
  const content = h('div', { class: 'tab-content' });
  replace(
    root,
    pageHeader(t('employee.title'), t('employee.subtitle', { event: event.name, company: companyNamer(event)(me?.company_id) })),
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
    const exportLink = downloadLink(t('after.export.company'), `/api/v1/events/${event.id}/export/company.csv`, `duet-${me?.company_id || 'company'}-chats.csv`, 'text/csv', 'export-company');
    chatList(content, byTab[tab], ctx, EMPTY[tab]);
    content.prepend(h('div', { class: 'row tab-tools' }, exportLink));
    return;
  }
  chatList(content, byTab[tab], ctx, EMPTY[tab]);
}

async function renderInvite(root, event, byTab) {
  replace(root, loading(t('employee.invite.loading')));
  const { participants } = await api.get(`/events/${event.id}/participants`);
  const active = new Map();
  for (const chat of [...byTab.requested, ...byTab.in_scheduling, ...byTab.confirmed]) active.set(chat.participant.id, chat);
  if (!participants.length) {
    replace(root, emptyState(t('employee.invite.empty.title'), t('employee.invite.empty.text')));
    return;
  }
  replace(
    root,
    h('p', { class: 'muted' }, t('employee.invite.intro')),
    h('div', { class: 'card-list people-list' }, participants.map((person) => inviteRow(event, person, active.get(person.id)))),
  );
}

function inviteRow(event, person, chat) {
  const panel = h('div');
  const errors = h('div');
  const action = chat
    ? h('span', { class: 'badge badge-info' }, t(chat.state === 'confirmed' ? 'chat.state.confirmed' : chat.initiator === 'employee' ? 'chat.state.invited' : 'chat.state.requested_you'))
    : h('button', {
      class: 'btn btn-secondary btn-small', type: 'button', dataset: { action: 'invite' },
      onclick: () => {
        const message = h('textarea', { rows: 2, maxlength: TEXT_MAX, placeholder: t('employee.invite.placeholder'), 'aria-label': t('employee.invite.message') });
        const send = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, t('employee.invite.send'));
        replace(panel, h('form', {
          class: 'inline-form',
          onsubmit: (e) => {
            e.preventDefault();
            busy(send, errors, async () => {
              await api.post(`/events/${event.id}/chats`, { participant_id: person.id, message: message.value.trim() });
              toast(t('employee.invite.sent', { name: person.name }), 'success');
              window.dispatchEvent(new HashChangeEvent('hashchange'));
            });
          },
        }, message, errors, h('div', { class: 'row' }, send)));
      },
    }, t('employee.invite.button'));
  return h('article', { class: 'card person-row', dataset: { person: person.name } },
    h('div', { class: 'chat-card-head' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(person.name)),
      h('div', { class: 'chat-card-who' }, h('strong', {}, person.name), h('span', { class: 'muted' }, person.headline || t('role.participant'))),
      action),
    panel);
}
