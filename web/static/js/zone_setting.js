// The person's own time zone: the browser's by default, or one they choose (stored on their
// user, GET/PUT /api/v1/me/time-zone), used by every time the pages show (format.js).

import { t } from './i18n.js';
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
  const select = h('select', { name: 'time_zone', 'aria-label': t('zone.show_in') },
    h('option', { value: '', selected: !chosen }, t('zone.browser', { zone: browserZone() })),
    zoneNames().map((zone) => h('option', { value: zone, selected: zone === chosen }, zone)));
  const errors = h('div');
  const save = h('button', { class: 'btn btn-primary btn-small', type: 'submit' }, t('zone.save'));
  const menu = h('details', { class: 'zone-menu' },
    h('summary', { title: t('zone.shown_in', { zone: viewerZone() }) },
      h('span', { class: 'zone-city' }, cityOf(viewerZone())), h('span', { class: 'zone-word' }, ` ${t('zone.time')}`)),
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
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('zone.show_in')), select),
    h('p', { class: 'muted small' }, t('zone.beside')),
    errors,
    save));
  return menu;
}
