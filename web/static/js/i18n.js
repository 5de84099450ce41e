// The client's words: every sentence a person reads comes from one catalogue per language
// (messages/<code>.js), looked up by key. `t(key, params)` fills named placeholders ({name})
// and picks plural forms with Intl.PluralRules; `locale()` is what Intl formats dates and
// numbers with. The language follows the browser (navigator.languages) unless the person chose
// one (localStorage 'duet.language', the picker in the top bar). See docs/architecture.md.

import en from './messages/en.js';
import de from './messages/de.js';

const CATALOGUES = { en, de };
const FALLBACK = 'en';
// The locale Intl uses when the browser names no region for the chosen language.
const DEFAULT_LOCALES = { en: 'en-GB', de: 'de-DE' };
const STORAGE_KEY = 'duet.language';
/** Dispatched on window after setLanguage(): the page re-renders in the new language. */
export const LANGUAGE_EVENT = 'duet:languagechange';

/** The languages the client speaks, as codes ("en", "de"), in the picker's order. */
export const LANGUAGES = Object.keys(CATALOGUES);

let current = FALLBACK;
let currentLocale = DEFAULT_LOCALES[FALLBACK];
const plurals = new Map();
const numbers = new Map();
const warned = new Set();

function known(code) {
  return typeof code === 'string' && Object.hasOwn(CATALOGUES, code);
}

function baseOf(tag) {
  return String(tag || '').toLowerCase().split('-')[0];
}

function readStored() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY) || '';
    return known(stored) ? stored : '';
  } catch {
    return '';
  }
}

let chosen = readStored();

/** The person's own choice ('' when they follow the browser). */
export function preference() {
  return chosen;
}

function browserTags() {
  if (navigator.languages && navigator.languages.length) return navigator.languages;
  return navigator.language ? [navigator.language] : [];
}

/**
 * {language, locale} for a choice ('' = follow the browser) and the browser's tags: the first
 * browser language we have a catalogue for, English otherwise. The locale keeps the browser's
 * region when it speaks the chosen language ("de-AT" stays Austrian), else the language's default.
 */
export function resolveLanguage(choice, tags) {
  const pick = (language) => {
    const tag = tags.find((t) => baseOf(t) === language);
    return { language, locale: tag || DEFAULT_LOCALES[language] };
  };
  if (known(choice)) return pick(choice);
  for (const tag of tags) if (known(baseOf(tag))) return pick(baseOf(tag));
  return pick(FALLBACK);
}

/** The language of the catalogue in use ("en", "de"). */
export function language() {
  return current;
}

/** The BCP 47 locale for Intl date, time and number formatting ("en-GB", "de-DE"). */
export function locale() {
  return currentLocale;
}

function lookup(key) {
  if (Object.hasOwn(CATALOGUES[current], key)) return CATALOGUES[current][key];
  if (Object.hasOwn(CATALOGUES[FALLBACK], key)) return CATALOGUES[FALLBACK][key];
  if (!warned.has(key)) {
    warned.add(key);
    console.warn('i18n: no message for', key);
  }
  return key;
}

function pluralRules() {
  if (!plurals.has(currentLocale)) plurals.set(currentLocale, new Intl.PluralRules(currentLocale));
  return plurals.get(currentLocale);
}

function formatValue(value) {
  if (typeof value !== 'number') return String(value);
  if (!numbers.has(currentLocale)) numbers.set(currentLocale, new Intl.NumberFormat(currentLocale));
  return numbers.get(currentLocale).format(value);
}

/**
 * The message `key` in the current language with {placeholders} filled from `params`. A plural
 * message ({one, other, ...}) picks its form by `params.count`. Numbers are formatted for the
 * locale; everything else is inserted as text (the DOM helpers never parse it as HTML).
 */
export function t(key, params = {}) {
  let message = lookup(key);
  if (message && typeof message === 'object') {
    const form = pluralRules().select(Number(params.count));
    message = message[form] ?? message.other;
  }
  return String(message).replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(params, name) && params[name] !== undefined && params[name] !== null ? formatValue(params[name]) : whole);
}

/** Names joined as the language lists them ("Ada and Sam", "Ada und Sam"). */
export function listOf(items) {
  return new Intl.ListFormat(currentLocale, { type: 'conjunction' }).format(items);
}

/** Whether the catalogue has `key` (for mapping server codes to sentences when we know them). */
export function has(key) {
  return Object.hasOwn(CATALOGUES[FALLBACK], key);
}

/**
 * The server's sentence for a code it sent, or ours: the server writes English, so in another
 * language a known code gets the catalogue's sentence (its key) and an unknown one the server's.
 */
export function serverSentence(key, sentence) {
  if (key && has(key) && (current !== FALLBACK || !sentence)) return t(key);
  return sentence || '';
}

/** The page's own words outside the views: <html lang>, the title, [data-i18n] elements. */
function applyToDocument() {
  document.documentElement.lang = current;
  document.title = t('app.title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

function apply() {
  ({ language: current, locale: currentLocale } = resolveLanguage(chosen, browserTags()));
  applyToDocument();
}

/** Choose a language ('' = follow the browser again); kept in localStorage, applied at once. */
export function setLanguage(code) {
  chosen = known(code) ? code : '';
  try {
    if (chosen) localStorage.setItem(STORAGE_KEY, chosen);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage refused (private mode): the choice lasts as long as the page
  }
  const before = current;
  apply();
  window.dispatchEvent(new CustomEvent(LANGUAGE_EVENT, { detail: { language: current, before } }));
}

/** A catalogue's own name for its language ("Deutsch"), for the picker. */
export function languageName(code) {
  return CATALOGUES[code]['language.self'];
}

apply();
window.addEventListener('languagechange', () => {
  // The browser's languages changed; a person who chose one keeps it.
  if (chosen) return;
  const before = current;
  apply();
  if (current !== before) window.dispatchEvent(new CustomEvent(LANGUAGE_EVENT, { detail: { language: current, before } }));
});
