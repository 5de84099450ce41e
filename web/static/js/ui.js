// Small shared widgets: alerts that show the API's sentence, busy buttons, tabs, toasts.

import { h, replace } from './dom.js';
import { t } from './i18n.js';

export function alertBox(message, kind = 'error') {
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
}

/** Show an error's sentence (ApiError.message is the problem+json detail) in `slot`. */
export function showError(slot, err) {
  const message = err && err.message ? err.message : t('error.generic_retry');
  replace(slot, alertBox(message, 'error'));
}

export function showNotice(slot, message, kind = 'success') {
  replace(slot, alertBox(message, kind));
}

/** Run `work` with `button` disabled; errors land in `errorSlot` as a sentence. */
export async function busy(button, errorSlot, work) {
  const label = button.textContent;
  button.disabled = true;
  button.classList.add('is-busy');
  if (errorSlot) replace(errorSlot);
  try {
    return await work();
  } catch (err) {
    if (errorSlot) showError(errorSlot, err);
    else toast(err.message || String(err), 'error');
    return undefined;
  } finally {
    button.disabled = false;
    button.classList.remove('is-busy');
    button.textContent = label;
  }
}

let toastHost = null;

export function toast(message, kind = 'info') {
  if (!toastHost) {
    toastHost = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastHost);
  }
  const el = h('div', { class: `toast toast-${kind}`, role: 'status' }, message);
  toastHost.append(el);
  setTimeout(() => el.remove(), 4500);
}

/** Tabs as links: [{id, label, count?}] → a nav bar; the current one is marked. */
export function tabBar(tabs, current, hrefOf) {
  const nav = h(
    'nav',
    { class: 'tabs', 'aria-label': t('ui.sections') },
    tabs.map((tab) =>
      h(
        'a',
        {
          class: `tab${tab.id === current ? ' is-current' : ''}`,
          href: hrefOf(tab.id),
          'aria-current': tab.id === current ? 'page' : null,
          dataset: { tab: tab.id },
        },
        tab.label,
        tab.count ? h('span', { class: 'count' }, String(tab.count)) : null,
      ),
    ),
  );
  // On a narrow screen the bar scrolls sideways: keep the current tab in view.
  requestAnimationFrame(() => {
    const here = nav.querySelector('.is-current');
    if (here && nav.scrollWidth > nav.clientWidth) nav.scrollLeft = here.offsetLeft - (nav.clientWidth - here.offsetWidth) / 2;
  });
  return nav;
}

export function emptyState(title, text) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), text ? h('p', {}, text) : null);
}

export function loading(text) {
  return h('p', { class: 'loading' }, text || t('ui.loading'));
}

export function pageHeader(title, subtitle, ...actions) {
  return h(
    'div',
    { class: 'page-header' },
    h('div', {}, h('h1', {}, title), subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind ? `badge-${kind}` : ''}` }, text);
}

export function chips(items) {
  return h('span', { class: 'chips' }, (items || []).map((item) => h('span', { class: 'chip' }, item)));
}
