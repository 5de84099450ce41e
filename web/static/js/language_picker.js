// The visible language setting in the top bar: follow the browser, or one of the catalogues.
// The choice is kept in localStorage (i18n.js) and applied at once, without a reload.

import { h } from './dom.js';
import { LANGUAGES, languageName, preference, resolveLanguage, setLanguage, t } from './i18n.js';

export function languagePicker() {
  const browser = resolveLanguage('', navigator.languages || [navigator.language]).language;
  // A phone's top bar has room for a short name of the automatic choice only.
  const autoKey = window.matchMedia('(max-width: 560px)').matches ? 'language.auto_short' : 'language.auto';
  return h(
    'label',
    { class: 'language-picker' },
    h('span', { class: 'visually-hidden' }, t('language.label')),
    h(
      'select',
      {
        id: 'language-select',
        dataset: { action: 'language' },
        onchange: (event) => setLanguage(event.target.value),
      },
      h('option', { value: '', selected: !preference() }, t(autoKey, { name: languageName(browser) })),
      LANGUAGES.map((code) => h('option', { value: code, lang: code, selected: preference() === code }, languageName(code))),
    ),
  );
}
