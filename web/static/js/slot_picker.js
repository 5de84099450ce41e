// Choosing one of an employee's free slots (to book, or to move a confirmed chat): each day
// says how long its chats are, and a slot that overlaps one of the person's confirmed chats
// is marked and cannot be picked (the server would refuse it anyway).

import { api } from './api.js';
import { h, replace } from './dom.js';
import { clockOf, dayOf, minutesBetween, timeOf, zoneName, zoneNote } from './format.js';
import { t } from './i18n.js';
import { clashWith } from './slot_clash.js';
import { loading, showError, emptyState } from './ui.js';

export function slotPicker({ eventId, employeeId, timeZone, exceptSlotId, chatId = null, onPick, onCancel }) {
  const body = h('div', { class: 'slot-picker-body' }, loading(t('slots.loading')));
  const errors = h('div', { class: 'slot-picker-errors' });
  const root = h(
    'div',
    { class: 'slot-picker', role: 'group', 'aria-label': t('slots.label') },
    h('div', { class: 'slot-picker-head' }, h('strong', {}, t('card.book')),
      h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: onCancel }, t('ui.close'))),
    errors,
    body,
  );
  Promise.all([
    api.get(`/events/${eventId}/employees/${employeeId}/slots`),
    api.get(`/me/schedule?event_id=${encodeURIComponent(eventId)}`),
  ])
    .then(([{ slots }, { chats: mine }]) => {
      const free = slots.filter((slot) => slot.id !== exceptSlotId && !slot.booked);
      if (!free.length) {
        replace(body, emptyState(t('slots.empty.title'), t('slots.empty.text')));
        return;
      }
      const byDay = new Map();
      for (const slot of free) {
        const minutes = minutesBetween(slot.starts_at, slot.ends_at);
        // The day's heading names the zone and how long its chats are ("Tue, 1 Dec · CET ·
        // 30-minute chats").
        const day = `${dayOf(slot.starts_at)} · ${zoneName(slot.starts_at)} · ${t('slots.day_length', { count: minutes })}`;
        if (!byDay.has(day)) byDay.set(day, []);
        byDay.get(day).push(slot);
      }
      replace(
        body,
        h('p', { class: 'muted small slot-zone' }, zoneNote(free[0].starts_at, timeZone)),
        [...byDay].map(([day, daySlots]) =>
          h('div', { class: 'slot-day' },
            h('div', { class: 'slot-day-title' }, day),
            h('div', { class: 'slot-buttons' }, daySlots.map((slot) => slotButton(slot, mine)))),
        ),
        mine.some((chat) => chat.id !== chatId && chat.state === 'confirmed')
          ? h('p', { class: 'muted small slot-legend' }, h('span', { class: 'legend-swatch', 'aria-hidden': 'true' }), ` ${t('slots.legend_clash')}`)
          : null,
      );
    })
    .catch((err) => showError(body, err));

  function slotButton(slot, mine) {
    const minutes = minutesBetween(slot.starts_at, slot.ends_at);
    const clash = clashWith(slot, mine, chatId);
    const other = clash ? (clash.employee && clash.employee.id !== employeeId ? clash.employee.name : clash.participant.name) : '';
    const about = t('slots.title', { time: timeOf(slot.starts_at, timeZone), count: minutes });
    return h(
      'button',
      {
        class: `slot-button${clash ? ' is-clash' : ''}`,
        type: 'button',
        disabled: Boolean(clash),
        dataset: { slotId: String(slot.id), start: slot.starts_at, minutes: String(minutes), clash: clash ? clash.id : '' },
        title: clash ? t('slots.clash_title', { about, name: other, from: clockOf(clash.slot.starts_at), to: clockOf(clash.slot.ends_at) }) : about,
        'aria-label': clash ? t('slots.clash_label', { about: t('slots.title', { time: clockOf(slot.starts_at), count: minutes }), name: other }) : t('slots.title', { time: clockOf(slot.starts_at), count: minutes }),
        onclick: async () => {
          for (const b of root.querySelectorAll('.slot-button')) b.disabled = true;
          try {
            await onPick(slot);
          } catch (err) {
            showError(errors, err);
            for (const b of root.querySelectorAll('.slot-button')) b.disabled = b.classList.contains('is-clash');
          }
        },
      },
      clockOf(slot.starts_at),
    );
  }
  return root;
}
