// The person's own time zone: the browser's by default, or one they choose (stored on their
// user, GET/PUT /api/v1/me/time-zone), used by every time the pages show (format.js).

import { api } from './api.js';
import { h } from './dom.js';
import { browserZone, cityOf, currentZoneName, setViewerZone, viewerZone } from './format.js';
import { session } from './session.js';
import { busy } from './ui.js';

function zoneNames() {
  const names = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set([...names.map(currentZoneName), 'UTC'])].sort();
}

/** Apply the signed-in person's setting (from GET /me) before anything is drawn. */
export function applyZoneSetting(user) {
  setViewerZone(user && user.time_zone);
}

/** The topbar's "Kolkata time" menu; saving re-draws the page in the chosen zone. */
export function zoneMenu(user, onChanged) {
  const chosen = user.time_zone || '';
  const select = h('select', { name: 'time_zone', 'aria-label': 'Show times in' },
    h('option', { value: '', selected: !chosen }, `My browser's zone (${browserZone()})`),
    zoneNames().map((zone) => h('option', { value: zone, selected: zone === chosen }, zone)));
  const errors = h('div');
  const save = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, 'Save');
  const menu = h('details', { class: 'zone-menu' },
    h('summary', { title: `Times are shown in ${viewerZone()}` },
      h('span', { class: 'zone-city' }, cityOf(viewerZone())), h('span', { class: 'zone-word' }, ' time')),
    h('form', {
      class: 'zone-form card',
      onsubmit: (e) => {
        e.preventDefault();
        busy(save, errors, async () => {
          const { time_zone: zone } = await api.put('/me/time-zone', { time_zone: select.value || null });
          session.rememberUser({ ...user, time_zone: zone });
          setViewerZone(zone);
          menu.open = false;
          onChanged();
        });
      },
    },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Show times in'), select),
    h('p', { class: 'muted small' }, 'The event\u2019s own time is shown beside yours where they differ.'),
    errors,
    save));
  return menu;
}
