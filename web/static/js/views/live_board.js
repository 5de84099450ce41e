// #/organizer/live: today's chats in real time, grouped now / next, Support requests on top,
// and a side panel to answer a chat's Support request in its chat (docs/live.md).

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { currentEvent } from '../events.js';
import { clockOf, timeOf } from '../format.js';
import { listOf, t } from '../i18n.js';
import { serverNow, syncServerClock } from '../server_clock.js';
import { openEventStream } from '../sse.js';
import { alertBox, busy, emptyState, loading, pageHeader, showNotice } from '../ui.js';

const NOW_GROUPS = [
  ['reconnecting', 'board.group.reconnecting'],
  ['no_show_risk', 'board.group.no_show_risk'],
  ['waiting', 'board.group.waiting'],
  ['live', 'board.group.live'],
  ['open', 'board.group.open'],
];
const VERDICT_WORDS = { good: 'quality.verdict.good', fair: 'quality.verdict.fair', poor: 'quality.verdict.poor', unknown: 'quality.verdict.unknown' };
// A person's connection in the side panel, after their seat.
const SEAT_QUALITY = { good: 'board.seat.quality.good', fair: 'board.seat.quality.fair', poor: 'board.seat.quality.poor' };
const MEDIA_WORDS = { direct: 'board.media.direct', turn: 'board.media.turn', relay: 'board.media.relay' };
const ENDED_WORDS = { completed: 'board.state.completed', no_show: 'board.state.no_show', cancelled: 'board.state.cancelled' };
const RANK = { poor: 3, fair: 2, good: 1, unknown: 0 };

const verdictWord = (verdict) => (VERDICT_WORDS[verdict] ? t(VERDICT_WORDS[verdict]) : verdict);

/** Whole minutes since `iso` on the server's clock (0 under a minute). */
function minutesSince(iso) {
  if (!iso) return 0;
  return Math.max(0, Math.floor((serverNow() - Date.parse(iso)) / 60000));
}

/** How long since `iso`, as the object of "for …" ("3 min", "less than a minute"). */
function durationSince(iso) {
  const count = minutesSince(iso);
  return count < 1 ? t('board.duration.under_a_minute') : t('board.duration.minutes', { count });
}

/** How long ago `iso` was ("3 min ago", "less than a minute ago"). */
function agoSince(iso) {
  const count = minutesSince(iso);
  return count < 1 ? t('board.ago.under_a_minute') : t('board.ago.minutes', { count });
}

/** The call's quality badge: the worse of the two people's latest verdicts. */
function qualityBadge(row) {
  const people = [row.employee, row.participant];
  const worst = people.reduce((a, b) => (RANK[b.verdict] > RANK[a.verdict] ? b : a));
  const title = people.map((p) => t('board.person_verdict', { name: p.name, verdict: verdictWord(p.verdict) })).join(' · ');
  return h('span', { class: 'quality', dataset: { verdict: worst.verdict }, title, 'aria-label': t('board.connection', { people: title }) },
    h('span', { class: 'quality-dot', 'aria-hidden': 'true' }), h('span', { class: 'quality-word' }, verdictWord(worst.verdict)));
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
      return t('board.line.live', { duration: durationSince(since) });
    }
    case 'waiting':
      return t('board.line.waiting', { name: inside[0].name, other: absent[0] ? absent[0].name : t('board.the_other_person'), duration: durationSince(inside[0].since) });
    case 'reconnecting':
      return [e, p].filter((x) => x.seat === 'reconnecting').map((x) => t('board.line.reconnecting', { name: x.name })).join(' ');
    case 'no_show_risk':
      return t('board.line.no_show_risk', { count: absent.length, names: listOf(absent.map((x) => x.name)), ago: agoSince(row.starts_at) });
    case 'open':
      return t('board.line.open');
    case 'next':
      return t('board.line.next', { time: timeOf(row.opens_at, timeZone) });
    default:
      return ENDED_WORDS[row.state] ? t(ENDED_WORDS[row.state]) : t('board.state.ended');
  }
}

export async function renderLiveBoard(root, { scope }) {
  replace(root, loading(t('board.loading')));
  const { event } = await currentEvent();
  if (!event) {
    replace(root, pageHeader(t('board.title'), null), emptyState(t('board.no_event.title'), t('board.no_event.text')));
    return;
  }
  const rows = new Map();
  let selected = null;
  let timeZone = event.timezone;
  const status = h('span', { class: 'live-status', id: 'live-status', dataset: { state: 'connecting' }, role: 'status' }, t('board.status.connecting'));
  const supportHost = h('section', { class: 'card board-support', id: 'board-support', 'aria-label': t('board.support.title') });
  const nowHost = h('section', { class: 'board-now', id: 'board-now' });
  const nextHost = h('section', { class: 'card board-next', id: 'board-next' });
  const endedHost = h('section', { class: 'card board-ended', id: 'board-ended' });
  const panel = h('aside', { class: 'card board-panel', id: 'board-panel', hidden: true, 'aria-label': t('board.panel.label') });
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
          row.media && row.group !== 'next' ? h('span', { class: 'badge', dataset: { media: row.media } }, MEDIA_WORDS[row.media] ? t(MEDIA_WORDS[row.media]) : row.media) : null,
          row.support_open ? h('span', { class: 'badge badge-danger', dataset: { support: String(row.support_open) } }, t('board.support.badge')) : null)));
  }

  function list(items, empty) {
    return items.length ? h('ol', { class: 'board-list' }, items.map(rowItem)) : h('p', { class: 'muted small' }, empty);
  }

  function render() {
    const all = [...rows.values()].sort((a, b) => a.starts_at.localeCompare(b.starts_at) || a.id.localeCompare(b.id));
    const askers = all.filter((r) => r.support_open);
    replace(supportHost, h('h2', {}, t('board.support.title')),
      askers.length
        ? h('ol', { class: 'board-list' }, askers.map((row) => {
          const open = row.support.filter((s) => !s.answered_at);
          const last = open[open.length - 1];
          const who = last.user_id === row.employee.id ? row.employee.name : row.participant.name;
          return h('li', { class: 'board-row support-row', dataset: { chat: row.id } },
            h('button', { type: 'button', class: 'board-row-button', onclick: () => select(row.id) },
              h('span', { class: 'board-time' }, clockOf(last.created_at, timeZone)),
              h('span', { class: 'board-people' }, h('strong', {}, who), t('board.support.in_chat', { employee: row.employee.name, participant: row.participant.name })),
              h('span', { class: 'board-line' }, last.text ? t('board.support.quoted', { text: last.text }) : t('board.support.no_text'))));
        }))
        : h('p', { class: 'muted small' }, t('board.support.none')));
    replace(nowHost, NOW_GROUPS.map(([group, titleKey]) => {
      const items = all.filter((r) => r.group === group);
      return h('div', { class: 'card board-group', dataset: { group } }, h('h2', {}, t(titleKey), h('span', { class: 'count' }, String(items.length))), list(items, t('board.group.none')));
    }));
    const next = all.filter((r) => r.group === 'next');
    replace(nextHost, h('h2', {}, t('board.next.title'), h('span', { class: 'count' }, String(next.length))), list(next, t('board.next.none')));
    const ended = all.filter((r) => r.group === 'ended');
    replace(endedHost, h('h2', {}, t('board.ended.title'), h('span', { class: 'count' }, String(ended.length))), list(ended, t('board.ended.none')));
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
  const answerText = h('textarea', { id: 'support-answer', rows: 3, maxlength: 2000, required: true, 'aria-label': t('board.answer.label'), placeholder: t('board.answer.placeholder') });
  const answerSend = h('button', { type: 'submit', class: 'btn btn-primary', dataset: { action: 'send-support' } }, t('board.answer.send'));
  const answerForm = h('form', {
    class: 'support-form',
    onsubmit: (e) => {
      e.preventDefault();
      const chatId = selected;
      busy(answerSend, answerNote, async () => {
        if (!answerText.value.trim()) throw new Error(t('board.answer.empty'));
        await api.post(`/chats/${chatId}/support/answer`, { text: answerText.value.trim() });
        answerText.value = '';
        showNotice(answerNote, t('board.answer.sent'), 'success');
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
    const seatWords = (p) => (p.seat === 'connected' ? t('board.seat.in_room', { duration: durationSince(p.since) })
      : p.seat === 'reconnecting' ? t('board.seat.reconnecting') : t('board.seat.absent'));
    const seat = (p) => h('li', {}, h('strong', {}, p.name), ` · ${seatWords(p)}`,
      SEAT_QUALITY[p.verdict] ? ` · ${t(SEAT_QUALITY[p.verdict])}` : '');
    replace(panelInfo,
      h('div', { class: 'panel-head' }, h('h2', {}, `${row.employee.name} ↔ ${row.participant.name}`),
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => { selected = null; render(); } }, t('ui.close'))),
      h('p', { class: 'muted' }, `${row.company} · ${timeOf(row.starts_at, timeZone)}–${clockOf(row.ends_at, timeZone)} · ${statusLine(row, timeZone)}`),
      h('ul', { class: 'panel-seats' }, seat(row.employee), seat(row.participant)),
      h('h3', {}, t('board.panel.support')),
      row.support.length
        ? h('ol', { class: 'panel-support', id: 'panel-support' }, row.support.map((s) => h('li', { dataset: { answered: String(Boolean(s.answered_at)) } },
          h('span', { class: 'muted small' }, `${clockOf(s.created_at, timeZone)} · ${s.user_id === row.employee.id ? row.employee.name : row.participant.name}${s.answered_at ? ` · ${t('board.panel.answered')}` : ''}`),
          h('p', {}, s.text || t('board.support.no_text')))))
        : h('p', { class: 'muted small' }, t('board.panel.no_support')));
    if (!panel.contains(answerForm)) replace(panel, panelInfo, answerForm);
  }

  replace(root,
    pageHeader(t('board.title'), t('board.subtitle', { event: event.name }), status, h('a', { class: 'btn btn-secondary btn-small', href: '#/organizer' }, t('board.settings_link'))),
    errors,
    boardEl);
  boardEl.append(h('div', { class: 'board-main' }, supportHost, h('h2', { class: 'board-heading' }, t('board.now')), nowHost, nextHost, endedHost), panel);

  openEventStream(`/events/${encodeURIComponent(event.id)}/live`, {
    scope,
    onStatus: (state) => {
      status.dataset.state = state;
      status.textContent = state === 'open' ? t('board.status.live') : t('board.status.reconnecting');
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
