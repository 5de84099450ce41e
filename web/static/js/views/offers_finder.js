// The Companies tab: search and filters kept in the address (#/participant/offers?q=…&topic=…,
// so a filtered view can be shared), answered by the server a page at a time; the next page is
// fetched and drawn when the end of the list comes into view, so 1,000 people never stall the
// page.

import { t } from '../i18n.js';
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { calendarDay, initials } from '../format.js';
import { emptyState, loading, showError } from '../ui.js';
import { experienceName } from './availability.js';

export const PAGE_SIZE = 40;
const SEARCH_DELAY_MS = 250;
// What the address may carry, in the API's own names (rb.OffersQuery).
const FILTERS = [
  { key: 'language', label: 'finder.language', any: 'finder.any_language', facet: 'languages' },
  { key: 'level', label: 'finder.level', any: 'finder.any_level', facet: 'levels', text: experienceName },
  { key: 'topic', label: 'finder.topic', any: 'finder.any_topic', facet: 'topics' },
  { key: 'free_on', label: 'finder.free_on', any: 'finder.any_day', facet: 'days', text: calendarDay },
];
const KEYS = ['q', ...FILTERS.map((f) => f.key)];

/** The search and filters of the address's query (`#/participant/offers?q=ada&topic=AI`). */
export function filtersFromHash(hash = location.hash) {
  const query = new URLSearchParams(hash.split('?')[1] || '');
  const found = new URLSearchParams();
  for (const key of KEYS) for (const value of query.getAll(key)) if (value.trim()) found.append(key, value.trim());
  return found;
}

function writeHash(filters) {
  const text = filters.toString();
  // replaceState: no hashchange, so the page keeps its focus and what it has drawn.
  history.replaceState(null, '', `#/participant/offers${text ? `?${text}` : ''}`);
}

/**
 * Draw the finder into `root`. `offerCard(offer)` draws one person; `groupBy` names the
 * company a card belongs to.
 */
export function offersFinder(root, { event, scope, offerCard }) {
  const filters = filtersFromHash();
  const search = h('input', {
    type: 'search', name: 'q', value: filters.get('q') || '', maxlength: 200,
    placeholder: t('finder.placeholder'), 'aria-label': t('finder.search_label'),
  });
  const selects = new Map();
  const summary = h('p', { class: 'muted finder-summary', role: 'status', 'aria-live': 'polite' });
  const list = h('div', { class: 'offer-list' });
  const more = h('button', { class: 'btn btn-secondary', type: 'button', dataset: { action: 'more' }, hidden: true, onclick: () => loadPage() }, t('finder.more'));
  const sentinel = h('div', { class: 'finder-sentinel', 'aria-hidden': 'true' });
  const errors = h('div');
  const clear = h('button', { class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'clear-filters' }, onclick: () => {
    search.value = '';
    for (const select of selects.values()) select.value = '';
    changed();
  } }, t('finder.clear'));
  const bar = h('form', { class: 'finder-bar', role: 'search', onsubmit: (e) => { e.preventDefault(); changed(); } },
    h('label', { class: 'field finder-search' }, h('span', { class: 'field-label' }, t('finder.search')), search),
    h('div', { class: 'finder-filters' }),
    clear);
  replace(root, bar, summary, errors, list, sentinel, more);

  let generation = 0;
  let offset = 0;
  let total = 0;
  let fetching = false;
  let lastCompany = null;
  let lastGrid = null;
  let timer = null;

  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(changed, SEARCH_DELAY_MS);
  });
  scope.onDispose(() => clearTimeout(timer));

  function drawFilters(facets) {
    const host = bar.querySelector('.finder-filters');
    if (host.childElementCount) return; // drawn once; the facets are the whole list's
    for (const f of FILTERS) {
      const values = facets[f.facet] || [];
      const wanted = filters.get(f.key) || '';
      const select = h('select', { name: f.key, 'aria-label': t(f.label), onchange: changed },
        h('option', { value: '' }, t(f.any)),
        values.map((v) => h('option', { value: v, selected: v.toLowerCase() === wanted.toLowerCase() }, f.text ? f.text(v) : v)));
      if (wanted && !values.some((v) => v.toLowerCase() === wanted.toLowerCase())) {
        select.append(h('option', { value: wanted, selected: true }, f.text ? f.text(wanted) : wanted));
      }
      selects.set(f.key, select);
      host.append(h('label', { class: 'field' }, h('span', { class: 'field-label' }, t(f.label)), select));
    }
  }

  function changed() {
    clearTimeout(timer);
    const next = new URLSearchParams();
    if (search.value.trim()) next.set('q', search.value.trim());
    for (const [key, select] of selects) if (select.value) next.set(key, select.value);
    for (const key of KEYS) filters.delete(key);
    for (const [key, value] of next) filters.append(key, value);
    writeHash(filters);
    restart();
  }

  function restart() {
    generation += 1;
    offset = 0;
    total = 0;
    fetching = false;
    lastCompany = null;
    lastGrid = null;
    replace(list, loading(t('participant.offers.loading')));
    loadPage();
  }

  async function loadPage() {
    if (fetching) return;
    fetching = true;
    const mine = generation;
    const query = new URLSearchParams(filters);
    query.set('limit', String(PAGE_SIZE));
    query.set('offset', String(offset));
    try {
      const page = await api.get(`/events/${event.id}/offers?${query}`);
      if (mine !== generation || scope.disposed) return;
      replace(errors);
      if (page.facets) drawFilters(page.facets);
      if (offset === 0) replace(list);
      drawPage(page);
    } catch (err) {
      if (mine === generation) showError(errors, err);
    } finally {
      if (mine === generation) fetching = false;
    }
    // Observe afresh: its first report says whether the end is still near (a fast scroll
    // can leave it in view while a page was drawn, and then no crossing is ever reported).
    if (mine === generation && offset < total) watchEnd();
  }

  function drawPage(page) {
    total = page.total;
    offset = page.offset + page.offers.length;
    const anyFilter = [...filters.keys()].length > 0;
    if (!total) {
      replace(list, anyFilter
        ? emptyState(t('finder.none.title'), t('finder.none.text'))
        : emptyState(t('participant.offers.empty.title'), t('participant.offers.empty.text')));
    }
    summary.textContent = total
      ? t(anyFilter ? 'finder.summary_matching' : 'finder.summary', { count: total, shown: offset })
      : '';
    root.dataset.total = String(total);
    root.dataset.shown = String(offset);
    // One fragment per page: the browser lays out once per page, never per card.
    const fragment = document.createDocumentFragment();
    for (const offer of page.offers) {
      if (offer.company_name !== lastCompany) {
        lastCompany = offer.company_name;
        lastGrid = h('div', { class: 'offer-grid' });
        fragment.append(h('section', { class: 'company', dataset: { company: offer.company_name } },
          h('h2', { class: 'company-name' }, h('span', { class: 'company-logo', 'aria-hidden': 'true' }, initials(offer.company_name)), offer.company_name),
          lastGrid));
      }
      lastGrid.append(offerCard(offer));
    }
    list.append(fragment);
    more.hidden = offset >= total;
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && offset < total) loadPage();
  }, { rootMargin: '600px 0px' });
  scope.onDispose(() => observer.disconnect());
  function watchEnd() {
    observer.unobserve(sentinel);
    observer.observe(sentinel);
  }
  restart();
}
