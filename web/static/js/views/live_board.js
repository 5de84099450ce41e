// #/organizer/live: today's chats in real time, grouped now / next, Support requests on top,
// and a side panel to answer a chat's Support request in its chat (docs/live.md).

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { currentEvent } from '../events.js';
import { clockOf, timeOf } from '../format.js';
import { serverNow, syncServerClock } from '../server_clock.js';
import { openEventStream } from '../sse.js';
import { alertBox, busy, emptyState, loading, pageHeader, showNotice } from '../ui.js';

const NOW_GROUPS = [
  ['reconnecting', 'Reconnecting'],
  ['no_show_risk', 'No-show risk'],
  ['waiting', 'Waiting'],
  ['live', 'Live'],
  ['open', 'Open, nobody in yet'],
];
const VERDICT_WORDS = { good: 'Good', fair: 'Fair', poor: 'Poor', unknown: 'Not measured' };
const MEDIA_WORDS = { direct: 'Direct', turn: 'Relayed (TURN)', relay: 'Through Duet' };
const RANK = { poor: 3, fair: 2, good: 1, unknown: 0 };

function minutesSince(iso) {
  if (!iso) return '';
  const minutes = Math.max(0, Math.floor((serverNow() - Date.parse(iso)) / 60000));
  return minutes < 1 ? 'less than a minute' : minutes === 1 ? '1 min' : `${minutes} min`;
}

/** The call's quality badge: the worse of the two people's latest verdicts. */
function qualityBadge(row) {
  const people = [row.employee, row.participant];
  const worst = people.reduce((a, b) => (RANK[b.verdict] > RANK[a.verdict] ? b : a));
  const title = people.map((p) => `${p.name}: ${VERDICT_WORDS[p.verdict] || p.verdict}`).join(' · ');
  return h('span', { class: 'quality', dataset: { verdict: worst.verdict }, title, 'aria-label': `Connection: ${title}` },
    h('span', { class: 'quality-dot', 'aria-hidden': 'true' }), h('span', { class: 'quality-word' }, VERDICT_WORDS[worst.verdict] || worst.verdict));
}

/** One sentence on where the chat stands. */
function statusLine(row, timeZone) {
  const e = row.employee;
  const p = row.participant;
  const inside = [e, p].filter((x) => x.seat === 'connected');
  const absent = [e, p].filter((x) => x.seat === 'absent');
  switch (row.group) {
    case 'live': {
      const since = [e.since, p.since].filter(Boolean).sort().pop();
      return `Live for ${minutesSince(since)}`;
    }
    case 'waiting':
      return `${inside[0].name} is in, waiting for ${absent[0] ? absent[0].name : 'the other person'} for ${minutesSince(inside[0].since)}`;
    case 'reconnecting':
      return [e, p].filter((x) => x.seat === 'reconnecting').map((x) => `${x.name} is reconnecting…`).join(' ');
    case 'no_show_risk':
      return `${absent.map((x) => x.name).join(' and ')} ${absent.length > 1 ? 'have' : 'has'} not joined; the chat started ${minutesSince(row.starts_at)} ago`;
    case 'open':
      return 'The room is open; nobody is in yet';
    case 'next':
      return `Opens at ${timeOf(row.opens_at, timeZone)}`;
    default:
      return { completed: 'Completed', no_show: 'No-show', cancelled: 'Cancelled' }[row.state] || 'Ended';
  }
}

export async function renderLiveBoard(root, { scope }) {
  replace(root, loading('Opening the live board…'));
  const { event } = await currentEvent();
  if (!event) {
    replace(root, pageHeader('Live board', null), emptyState('No event yet', 'Create the event first.'));
    return;
  }
  const rows = new Map();
  let selected = null;
  let timeZone = event.timezone;
  const status = h('span', { class: 'live-status', id: 'live-status', dataset: { state: 'connecting' }, role: 'status' }, 'Connecting…');
  const supportHost = h('section', { class: 'card board-support', id: 'board-support', 'aria-label': 'Support requests' });
  const nowHost = h('section', { class: 'board-now', id: 'board-now' });
  const nextHost = h('section', { class: 'card board-next', id: 'board-next' });
  const endedHost = h('section', { class: 'card board-ended', id: 'board-ended' });
  const panel = h('aside', { class: 'card board-panel', id: 'board-panel', hidden: true, 'aria-label': 'Chat details' });
  const errors = h('div');
  const boardEl = h('div', { class: 'board' });

  function rowItem(row) {
    return h('li', { class: `board-row${selected === row.id ? ' is-selected' : ''}`, dataset: { chat: row.id, group: row.group } },
      h('button', { type: 'button', class: 'board-row-button', onclick: () => select(row.id) },
        h('span', { class: 'board-time' }, `${clockOf(row.starts_at, timeZone)}–${clockOf(row.ends_at, timeZone)}`),
        h('span', { class: 'board-people' }, h('strong', {}, row.employee.name), ` (${row.company}) ↔ `, h('strong', {}, row.participant.name)),
        h('span', { class: 'board-line' }, statusLine(row, timeZone)),
        h('span', { class: 'board-tags' },
          // live calls: the latest verdicts; ended ones: the call's, as saved
          row.group === 'live' || row.group === 'reconnecting' || row.group === 'waiting' || (row.group === 'ended' && (row.employee.verdict !== 'unknown' || row.participant.verdict !== 'unknown')) ? qualityBadge(row) : null,
          row.media && row.group !== 'next' ? h('span', { class: 'badge', dataset: { media: row.media } }, MEDIA_WORDS[row.media] || row.media) : null,
          row.support_open ? h('span', { class: 'badge badge-danger', dataset: { support: String(row.support_open) } }, 'Support') : null)));
  }

  function list(items, empty) {
    return items.length ? h('ol', { class: 'board-list' }, items.map(rowItem)) : h('p', { class: 'muted small' }, empty);
  }

  function render() {
    const all = [...rows.values()].sort((a, b) => a.starts_at.localeCompare(b.starts_at) || a.id.localeCompare(b.id));
    const askers = all.filter((r) => r.support_open);
    replace(supportHost, h('h2', {}, 'Support requests'),
      askers.length
        ? h('ol', { class: 'board-list' }, askers.map((row) => {
          const open = row.support.filter((s) => !s.answered_at);
          const last = open[open.length - 1];
          const who = last.user_id === row.employee.id ? row.employee.name : row.participant.name;
          return h('li', { class: 'board-row support-row', dataset: { chat: row.id } },
            h('button', { type: 'button', class: 'board-row-button', onclick: () => select(row.id) },
              h('span', { class: 'board-time' }, clockOf(last.created_at, timeZone)),
              h('span', { class: 'board-people' }, h('strong', {}, who), ` in the chat ${row.employee.name} ↔ ${row.participant.name}`),
              h('span', { class: 'board-line' }, last.text ? `“${last.text}”` : 'Pressed Support (no message)')));
        }))
        : h('p', { class: 'muted small' }, 'Nobody has asked for help.'));
    replace(nowHost, NOW_GROUPS.map(([group, title]) => {
      const items = all.filter((r) => r.group === group);
      return h('div', { class: 'card board-group', dataset: { group } }, h('h2', {}, title, h('span', { class: 'count' }, String(items.length))), list(items, 'None.'));
    }));
    const next = all.filter((r) => r.group === 'next');
    replace(nextHost, h('h2', {}, 'Next', h('span', { class: 'count' }, String(next.length))), list(next, 'Nothing more today.'));
    const ended = all.filter((r) => r.group === 'ended');
    replace(endedHost, h('h2', {}, 'Ended', h('span', { class: 'count' }, String(ended.length))), list(ended, 'None yet.'));
    renderPanel();
  }

  function select(chatId) {
    selected = chatId;
    render();
    answerText.focus();
  }

  // The answer form outlives re-renders (news, the 15 s clock): what the organizer is typing
  // and the last notice stay; only the chat's facts above it are drawn again.
  const panelInfo = h('div', { class: 'panel-info' });
  const answerNote = h('div');
  const answerText = h('textarea', { id: 'support-answer', rows: 3, maxlength: 2000, required: true, 'aria-label': 'Answer as Support', placeholder: 'Both people see this in their chat, as Support.' });
  const answerSend = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { action: 'send-support' } }, 'Send as Support');
  const answerForm = h('form', {
    class: 'support-form',
    onsubmit: (e) => {
      e.preventDefault();
      const chatId = selected;
      busy(answerSend, answerNote, async () => {
        if (!answerText.value.trim()) throw new Error('Write the answer first.');
        await api.post(`/chats/${chatId}/support/answer`, { text: answerText.value.trim() });
        answerText.value = '';
        showNotice(answerNote, 'Sent: both people see it in their chat.', 'success');
      });
    },
  }, answerText, answerNote, h('div', { class: 'row' }, answerSend));
  let panelFor = null;

  function renderPanel() {
    const row = selected && rows.get(selected);
    panel.hidden = !row;
    boardEl.classList.toggle('has-panel', Boolean(row));
    if (!row) return;
    if (panelFor !== row.id) {
      panelFor = row.id;
      answerText.value = '';
      replace(answerNote);
    }
    const seat = (p) => h('li', {}, h('strong', {}, p.name), ` · ${p.seat === 'connected' ? `in the room for ${minutesSince(p.since)}` : p.seat === 'reconnecting' ? 'reconnecting…' : 'not in the room'}`,
      p.verdict !== 'unknown' ? ` · connection ${VERDICT_WORDS[p.verdict].toLowerCase()}` : '');
    replace(panelInfo,
      h('div', { class: 'panel-head' }, h('h2', {}, `${row.employee.name} ↔ ${row.participant.name}`),
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => { selected = null; render(); } }, 'Close')),
      h('p', { class: 'muted' }, `${row.company} · ${timeOf(row.starts_at, timeZone)}–${clockOf(row.ends_at, timeZone)} · ${statusLine(row, timeZone)}`),
      h('ul', { class: 'panel-seats' }, seat(row.employee), seat(row.participant)),
      h('h3', {}, 'Support'),
      row.support.length
        ? h('ol', { class: 'panel-support', id: 'panel-support' }, row.support.map((s) => h('li', { dataset: { answered: String(Boolean(s.answered_at)) } },
          h('span', { class: 'muted small' }, `${clockOf(s.created_at, timeZone)} · ${s.user_id === row.employee.id ? row.employee.name : row.participant.name}${s.answered_at ? ' · answered' : ''}`),
          h('p', {}, s.text || 'Pressed Support (no message)'))))
        : h('p', { class: 'muted small' }, 'No Support request in this chat.'));
    if (!panel.contains(answerForm)) replace(panel, panelInfo, answerForm);
  }

  replace(root,
    pageHeader('Live board', `${event.name} · today`, status, h('a', { class: 'btn btn-secondary btn-small', href: '#/organizer' }, 'Event settings')),
    errors,
    boardEl);
  boardEl.append(h('div', { class: 'board-main' }, supportHost, h('h2', { class: 'board-heading' }, 'Now'), nowHost, nextHost, endedHost), panel);

  openEventStream(`/events/${encodeURIComponent(event.id)}/live`, {
    scope,
    onStatus: (state) => {
      status.dataset.state = state;
      status.textContent = state === 'open' ? 'Live' : 'Reconnecting…';
    },
    onRefused: (sentence) => replace(errors, alertBox(sentence)),
    onEvent: (name, data) => {
      if (name === 'snapshot') {
        syncServerClock(data.now);
        timeZone = data.event.timezone;
        rows.clear();
        for (const row of data.rows) rows.set(row.id, row);
      } else if (name === 'row') {
        rows.set(data.id, data);
      }
      render();
    },
  });
  // Durations ("waiting for 3 min") move with the clock: a re-render, not a request.
  scope.every(15000, render);
}
