// Choosing one of an employee's free slots (to book, or to move a confirmed chat).

import { api } from './api.js';
import { h, replace } from './dom.js';
import { clockOf, dayOf, minutesBetween, timeOf, zoneName } from './format.js';
import { t } from './i18n.js';
import { loading, showError, emptyState } from './ui.js';

export function slotPicker({ eventId, employeeId, timeZone, exceptSlotId, onPick, onCancel }) {
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
  api
    .get(`/events/${eventId}/employees/${employeeId}/slots`)
    .then(({ slots }) => {
      const free = slots.filter((slot) => slot.id !== exceptSlotId && !slot.booked);
      if (!free.length) {
        replace(body, emptyState(t('slots.empty.title'), t('slots.empty.text')));
        return;
      }
      const byDay = new Map();
      for (const slot of free) {
        // The day's heading names the zone its times are in ("Tue, 1 Dec · CET").
        const day = `${dayOf(slot.starts_at, timeZone)} · ${zoneName(slot.starts_at, timeZone)}`;
        if (!byDay.has(day)) byDay.set(day, []);
        byDay.get(day).push(slot);
      }
      replace(
        body,
        [...byDay].map(([day, daySlots]) =>
          h(
            'div',
            { class: 'slot-day' },
            h('div', { class: 'slot-day-title' }, day),
            h(
              'div',
              { class: 'slot-buttons' },
              daySlots.map((slot) => {
                const button = h(
                  'button',
                  {
                    class: 'slot-button',
                    type: 'button',
                    dataset: { slotId: String(slot.id), start: slot.starts_at },
                    title: t('slots.title', { time: timeOf(slot.starts_at, timeZone), count: minutesBetween(slot.starts_at, slot.ends_at) }),
                    onclick: async () => {
                      for (const b of root.querySelectorAll('.slot-button')) b.disabled = true;
                      try {
                        await onPick(slot);
                      } catch (err) {
                        showError(errors, err);
                        for (const b of root.querySelectorAll('.slot-button')) b.disabled = false;
                      }
                    },
                  },
                  clockOf(slot.starts_at, timeZone),
                );
                return button;
              }),
            ),
          ),
        ),
      );
    })
    .catch((err) => showError(body, err));
  return root;
}
