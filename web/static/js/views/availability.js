// The employee's availability: a duration and a grid of slots per event day, the optional
// profile participants see, and "Confirm Availability" (publishing within the company quota).

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { calendarDay, clockOf, timeOf, zoneNote, zoneOfDay } from '../format.js';
import { t } from '../i18n.js';
import { BACKGROUND_MAX, QUESTION_MAX } from '../limits.js';
import { serverNow } from '../server_clock.js';
import { alertBox, busy, loading, showError, showNotice } from '../ui.js';

// Stored as these English words (the profile's value); shown in the reader's language.
const EXPERIENCE_LEVELS = {
  '': 'availability.level.none',
  Junior: 'availability.level.junior',
  'Mid-level': 'availability.level.mid',
  Senior: 'availability.level.senior',
  Staff: 'availability.level.staff',
  Principal: 'availability.level.principal',
  Executive: 'availability.level.executive',
};

/** A profile's experience level in the reader's language (a value not in the list as it is). */
export function experienceName(level) {
  return Object.hasOwn(EXPERIENCE_LEVELS, level) ? t(EXPERIENCE_LEVELS[level]) : level;
}

function splitList(text) {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The sentence that stops an over-quota Confirm before anything is saved. */
function overQuota(excess) {
  return t('availability.over_quota', { count: excess });
}

/** The quota box: "N of M slots used · K available". */
export function quotaBox(figure, pendingCount = 0) {
  const { quota, used, available } = figure;
  const fill = h('span', { class: 'meter-fill' });
  fill.style.width = `${quota ? Math.min(100, (used / quota) * 100) : 0}%`;
  return h(
    'section',
    { class: 'quota-box card', 'aria-label': t('availability.quota.label'), dataset: { used: String(used), quota: String(quota) } },
    h('div', { class: 'quota-figures' },
      h('span', { class: 'quota-big' }, t('availability.quota.used_of', { used, quota })),
      h('span', {}, ' ', t('availability.quota.slots_used')),
      h('span', { class: 'muted' }, ' · ', t('availability.quota.available', { available }))),
    h('div', { class: 'meter', role: 'progressbar', 'aria-label': t('availability.quota.meter'), 'aria-valuemin': '0', 'aria-valuemax': String(quota), 'aria-valuenow': String(used) }, fill),
    pendingCount ? h('p', { class: 'muted small' }, t('availability.quota.pending', { count: pendingCount })) : null,
  );
}

const CELL_KEYS = {
  booked: 'availability.cell.booked',
  published: 'availability.cell.published',
  pending: 'availability.cell.pending',
  past: 'availability.cell.past',
  free: 'availability.cell.free',
};

/** A radio group is one Tab stop; the arrow keys move to the next choice and pick it. */
function arrowsPickRadio(event) {
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
  if (!step) return;
  event.preventDefault();
  const radios = [...event.currentTarget.querySelectorAll('[role=radio]')];
  const next = radios[(radios.indexOf(document.activeElement) + step + radios.length) % radios.length];
  next.focus(); // first, so the redrawn day gives the focus to the new choice
  next.click();
}

export async function renderAvailability(root, { event, scope, onQuota }) {
  replace(root, loading(t('availability.loading')));
  let record = await api.get(`/events/${event.id}/availability`);
  const tz = event.timezone;
  const status = h('div', { class: 'availability-status' });
  const messages = h('div');
  const daysHost = h('div', { class: 'days' });

  // Local, editable state per day: the chosen duration and the selected start times.
  const state = new Map();
  function resetState() {
    state.clear();
    for (const day of event.days) {
      const stored = record.days.find((d) => d.date === day.date);
      const duration = stored ? stored.duration_min : day.durations[0];
      const selected = new Set(
        record.slots
          .filter((s) => s.date === day.date && (Date.parse(s.ends_at) - Date.parse(s.starts_at)) / 60000 === duration)
          .map((s) => s.starts_at),
      );
      state.set(day.date, { duration, selected, touched: Boolean(stored), grid: null });
    }
  }
  resetState();
  const stored = () => new Map(record.slots.map((s) => [s.starts_at, s]));
  const lengthOf = (slot) => (Date.parse(slot.ends_at) - Date.parse(slot.starts_at)) / 60000;

  function renderStatus() {
    const label = { none: t('availability.status.none'), draft: t('availability.status.draft'), published: t('availability.status.published') }[record.status] || record.status;
    const { pending } = countChanges();
    replace(
      status,
      h('span', { class: `status-dot status-${record.status}` }),
      h('strong', {}, label),
      record.pending_changes ? h('span', { class: 'muted' }, ' · ', t('availability.status.pending_changes', { count: record.pending_changes })) : null,
    );
    const left = quotaLeft();
    quotaLeftNote.dataset.left = String(left);
    quotaLeftNote.classList.toggle('is-over', left < 0);
    quotaLeftNote.textContent = left < 0
      ? overQuota(-left)
      : pending
        ? t('availability.quota.left_after', { count: left, pending })
        : t('availability.quota.left', { count: left });
    onQuota(record.company_slots, pending);
  }

  /** New slots this edit selects (they take from the quota on Confirm), and published ones it
   * removes (they give back). Only days in the saved edit (touched or selected) change. */
  function countChanges() {
    const have = stored();
    let pending = 0;
    let freed = 0;
    for (const [date, day] of state) {
      for (const start of day.selected) {
        const slot = have.get(start);
        if (!slot || !slot.published || lengthOf(slot) !== day.duration) pending += 1;
      }
      if (!day.touched) continue;
      for (const slot of record.slots) {
        if (slot.date !== date || !slot.published || slot.booked) continue;
        if (!day.selected.has(slot.starts_at) || lengthOf(slot) !== day.duration) freed += 1;
      }
    }
    return { pending, freed };
  }

  /** How many more slots Confirm may publish after this edit; negative when it is over. */
  function quotaLeft() {
    const { pending, freed } = countChanges();
    return record.company_slots.available + freed - pending;
  }

  async function loadGrid(date) {
    const day = state.get(date);
    const data = await api.get(`/events/${event.id}/grid?date=${date}&duration_min=${day.duration}`);
    day.grid = data.slots;
  }

  function cell(date, slot) {
    const day = state.get(date);
    const have = stored().get(slot.starts_at);
    const sameLength = have && lengthOf(have) === day.duration;
    const booked = Boolean(have && have.booked && sameLength);
    const selected = day.selected.has(slot.starts_at);
    const past = Date.parse(slot.starts_at) <= serverNow();
    const published = Boolean(selected && have && have.published && sameLength);
    const kind = booked ? 'booked' : selected ? (published ? 'published' : 'pending') : past ? 'past' : 'free';
    const text = t(CELL_KEYS[kind]);
    return h(
      'button',
      {
        type: 'button',
        class: `slot-cell slot-${kind}`,
        disabled: booked || (past && !selected),
        'aria-pressed': selected ? 'true' : 'false',
        title: `${timeOf(slot.starts_at, tz)}–${timeOf(slot.ends_at, tz)} · ${text}`,
        dataset: { start: slot.starts_at, kind },
        onclick: () => {
          day.touched = true;
          if (day.selected.has(slot.starts_at)) day.selected.delete(slot.starts_at);
          else day.selected.add(slot.starts_at);
          renderDay(date);
          renderStatus();
        },
      },
      h('span', { class: 'slot-time' }, clockOf(slot.starts_at)),
      h('span', { class: 'slot-kind' }, text),
    );
  }

  const dayNodes = new Map();

  /** The control of `node` that has the keyboard focus, as a selector that finds its redrawn twin. */
  function focusedControl(node) {
    const el = document.activeElement;
    if (!el || !node.contains(el)) return null;
    const key = ['start', 'duration', 'action'].find((k) => el.dataset[k]);
    return key ? `[data-${key}="${CSS.escape(el.dataset[key])}"]` : null;
  }

  function renderDay(date) {
    const eventDay = event.days.find((d) => d.date === date);
    const day = state.get(date);
    const node = dayNodes.get(date);
    const durationPicker = h(
      'div',
      { class: 'segmented', role: 'radiogroup', 'aria-label': t('availability.chat_length'), onkeydown: arrowsPickRadio },
      eventDay.durations.map((minutes) =>
        h(
          'button',
          {
            type: 'button',
            role: 'radio',
            tabindex: minutes === day.duration ? '0' : '-1',
            class: `segment${minutes === day.duration ? ' is-current' : ''}`,
            'aria-checked': minutes === day.duration ? 'true' : 'false',
            dataset: { duration: String(minutes) },
            onclick: async () => {
              if (minutes === day.duration) return;
              day.duration = minutes;
              day.touched = true;
              day.selected = new Set();
              day.grid = null;
              renderDay(date);
              try {
                await loadGrid(date);
              } catch (err) {
                showError(messages, err);
              }
              renderDay(date);
              renderStatus();
            },
          },
          t('availability.minutes', { minutes }),
        ),
      ),
    );
    const selectable = (day.grid || []).filter((s) => Date.parse(s.starts_at) > serverNow() || day.selected.has(s.starts_at));
    const selectAll = h('button', {
      type: 'button', class: 'btn btn-ghost btn-small', dataset: { action: 'select-all' },
      onclick: () => {
        // Never more than the quota leaves: the first free slots of the day, in time order.
        day.touched = true;
        let added = 0;
        let skipped = 0;
        for (const s of selectable) {
          if (day.selected.has(s.starts_at)) continue;
          day.selected.add(s.starts_at);
          if (quotaLeft() < 0) {
            day.selected.delete(s.starts_at);
            skipped += 1;
          } else {
            added += 1;
          }
        }
        renderDay(date);
        renderStatus();
        if (skipped) {
          showNotice(messages, added
            ? t('availability.select_all.some', { count: added, skipped: t('availability.free_slots', { count: skipped }) })
            : t('availability.select_all.none'), 'warn');
        } else {
          replace(messages);
        }
      },
    }, t('availability.select_all'));
    const clearAll = h('button', {
      type: 'button', class: 'btn btn-ghost btn-small', dataset: { action: 'clear' },
      onclick: () => {
        day.touched = true;
        const have = stored();
        for (const start of [...day.selected]) if (!have.get(start)?.booked) day.selected.delete(start);
        renderDay(date);
        renderStatus();
      },
    }, t('availability.clear'));
    const refocus = focusedControl(node);
    replace(
      node,
      h('div', { class: 'day-head' },
        h('div', {}, h('h2', { class: 'day-title' }, calendarDay(date)), h('span', { class: 'muted' }, t('availability.day_summary', { start: eventDay.start, end: eventDay.end, zone: zoneOfDay(date, tz), selected: day.selected.size }))),
        h('div', { class: 'day-tools' }, durationPicker, selectAll, clearAll)),
      day.grid && day.grid.length ? h('p', { class: 'muted small grid-zone' }, zoneNote(day.grid[0].starts_at, tz)) : null,
      day.grid ? h('div', { class: 'slot-grid' }, day.grid.map((slot) => cell(date, slot))) : loading(t('availability.loading_slots')),
    );
    // Redrawing keeps a keyboard user where they were (a disabled twin cannot take it).
    if (refocus) node.querySelector(refocus)?.focus();
  }

  // Profile form
  const profile = record.profile;
  const fields = {
    background: h('textarea', { rows: 2, value: profile.background || '', maxlength: BACKGROUND_MAX, placeholder: t('availability.profile.background_placeholder') }),
    experience_level: h('select', {}, Object.entries(EXPERIENCE_LEVELS).map(([level, key]) => h('option', { value: level, selected: level === profile.experience_level }, t(key)))),
    languages: h('input', { type: 'text', value: (profile.languages || []).join(', '), placeholder: t('availability.profile.languages_placeholder') }),
    topics: h('input', { type: 'text', value: (profile.topics || []).join(', '), placeholder: t('availability.profile.topics_placeholder') }),
    custom_question: h('textarea', { rows: 3, value: profile.custom_question || '', maxlength: QUESTION_MAX, placeholder: t('availability.profile.question_placeholder') }),
  };
  if (profile.experience_level && !Object.hasOwn(EXPERIENCE_LEVELS, profile.experience_level)) {
    fields.experience_level.append(h('option', { value: profile.experience_level, selected: true }, profile.experience_level));
  }
  const labelled = (text, input, hint) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, text), input, hint ? h('span', { class: 'field-hint' }, hint) : null);

  function body() {
    const days = [];
    for (const [date, day] of state) {
      if (!day.touched && !day.selected.size) continue;
      days.push({ date, duration_min: day.duration, slots: [...day.selected].sort() });
    }
    return {
      days,
      profile: {
        background: fields.background.value.trim(),
        experience_level: fields.experience_level.value,
        languages: splitList(fields.languages.value),
        topics: splitList(fields.topics.value),
        custom_question: fields.custom_question.value.trim(),
      },
    };
  }

  async function refreshAll(next) {
    record = next;
    resetState();
    await Promise.all([...state.keys()].map(loadGrid));
    for (const date of state.keys()) renderDay(date);
    renderStatus();
  }

  const quotaLeftNote = h('span', { class: 'quota-left', id: 'quota-left', 'aria-live': 'polite' });
  const saveButton = h('button', { type: 'button', class: 'btn btn-secondary', dataset: { action: 'save-draft' } }, t('availability.save_draft'));
  const confirmButton = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'confirm-availability' } }, t('availability.confirm'));
  saveButton.addEventListener('click', () =>
    busy(saveButton, messages, async () => {
      await refreshAll(await api.put(`/events/${event.id}/availability`, body()));
      showNotice(messages, t('availability.draft_saved'), 'info');
    }),
  );
  confirmButton.addEventListener('click', () =>
    busy(confirmButton, messages, async () => {
      // The company's figure as it is now (colleagues publish too), and an over-quota selection
      // refused here, before it is saved: a refused Confirm must not leave it behind as a draft.
      record.company_slots = await api.get(`/events/${event.id}/quota`);
      renderStatus();
      const left = quotaLeft();
      if (left < 0) throw new Error(overQuota(-left));
      await refreshAll(await api.put(`/events/${event.id}/availability`, body()));
      const published = await api.post(`/events/${event.id}/availability/confirm`);
      await refreshAll(published);
      const f = published.company_slots;
      showNotice(messages, t('availability.confirmed', { used: f.used, quota: f.quota }), 'success');
    }),
  );

  replace(
    root,
    h('div', { class: 'availability' },
      h('div', { class: 'availability-bar card' }, status,
        h('div', { class: 'legend' },
          ['free', 'pending', 'published', 'booked'].map((kind) => h('span', { class: `legend-item legend-${kind}` }, t(CELL_KEYS[kind])))),
        h('div', { class: 'row availability-actions' }, quotaLeftNote, saveButton, confirmButton)),
      messages,
      event.days.length ? daysHost : alertBox(t('availability.no_days'), 'info'),
      h('section', { class: 'card profile-form' },
        h('h2', {}, t('availability.profile.title')),
        h('p', { class: 'muted' }, t('availability.profile.intro')),
        h('div', { class: 'form-grid' },
          labelled(t('profile.background'), fields.background),
          labelled(t('availability.profile.experience_level'), fields.experience_level),
          labelled(t('profile.languages'), fields.languages, t('availability.profile.commas')),
          labelled(t('profile.topics'), fields.topics, t('availability.profile.commas')),
          labelled(t('availability.profile.question'), fields.custom_question, t('availability.profile.question_hint', { max: QUESTION_MAX })))),
    ),
  );
  for (const day of event.days) {
    const node = h('section', { class: 'card day', dataset: { date: day.date } });
    dayNodes.set(day.date, node);
    daysHost.append(node);
  }
  await Promise.all([...state.keys()].map((date) => loadGrid(date).catch((err) => showError(messages, err))));
  for (const date of state.keys()) renderDay(date);
  renderStatus();
  // Past slots become unselectable as time moves on.
  scope.every(60_000, () => { for (const date of state.keys()) renderDay(date); });
}
