// Dates, times and durations in words and digits, in the event's time zone and labelled with it,
// in the reader's language (i18n.js locale()).

import { locale, t } from './i18n.js';

const cache = new Map();

function formatter(timeZone, options) {
  const key = `${locale()}|${timeZone}|${JSON.stringify(options)}`;
  if (!cache.has(key)) {
    cache.set(key, new Intl.DateTimeFormat(locale(), { timeZone: timeZone || undefined, ...options }));
  }
  return cache.get(key);
}

/** "13:00": the digits alone, for grids whose heading names the zone (see zoneNote). */
export function clockOf(iso, timeZone) {
  return formatter(timeZone, { hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

/**
 * The zone's short name at that instant, as the reader's language writes it ("CET", "CEST",
 * "GMT+1"): times are shown in the event's zone, so without it a reader elsewhere takes them
 * for their own clock. (Per-person zones are a later step.)
 */
export function zoneName(iso, timeZone) {
  const part = formatter(timeZone, { timeZoneName: 'short' })
    .formatToParts(new Date(iso))
    .find((p) => p.type === 'timeZoneName');
  return part ? part.value : timeZone || '';
}

/** "13:00 CET": every time a person reads carries its zone. */
export function timeOf(iso, timeZone) {
  return `${clockOf(iso, timeZone)} ${zoneName(iso, timeZone)}`;
}

export function dayOf(iso, timeZone) {
  return formatter(timeZone, { weekday: 'short', day: 'numeric', month: 'short' }).format(new Date(iso));
}

/** "2026-12-01" → "Tue, 1 Dec" (a calendar date, no time zone shift). */
export function calendarDay(date) {
  return formatter('UTC', { weekday: 'short', day: 'numeric', month: 'short' }).format(
    new Date(`${date}T12:00:00Z`),
  );
}

/** The zone of a calendar date's wall-clock times ("08:00–20:00 CET"), taken at its noon. */
export function zoneOfDay(date, timeZone) {
  return zoneName(`${date}T12:00:00Z`, timeZone);
}

/** The caption of a grid of bare times: "Times in CET (Europe/Berlin)". */
export function zoneNote(iso, timeZone) {
  const name = zoneName(iso, timeZone);
  return timeZone && timeZone !== name ? t('format.times_in_zone', { zone: name, tz: timeZone }) : t('format.times_in', { zone: name });
}

/** "Mon, 30 Nov, 10:57–11:27 CET": the zone once, after the range. */
export function slotRange(slot, timeZone) {
  if (!slot) return t('format.no_time');
  const start = slot.starts_at;
  return `${dayOf(start, timeZone)}, ${clockOf(start, timeZone)}–${clockOf(slot.ends_at, timeZone)} ${zoneName(start, timeZone)}`;
}

export function minutesBetween(startIso, endIso) {
  return Math.round((Date.parse(endIso) - Date.parse(startIso)) / 60000);
}

/** 65 → "1:05", 3725 → "1:02:05"; never negative. */
export function clockDigits(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = String(s % 60).padStart(2, '0');
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`;
  return `${minutes}:${seconds}`;
}

/** A longer wait in words: "2 days 3 h", "4 h 05 min", else digits. */
export function waitInWords(totalSeconds) {
  const s = Math.max(0, Math.ceil(totalSeconds));
  if (s >= 86400) {
    const days = Math.floor(s / 86400);
    return t('format.wait_days', { count: days, hours: Math.floor((s % 86400) / 3600) });
  }
  if (s >= 3600) {
    return t('format.wait_hours', { hours: Math.floor(s / 3600), minutes: String(Math.floor((s % 3600) / 60)).padStart(2, '0') });
  }
  return clockDigits(s);
}

export function initials(name) {
  return (name || '?')
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0].toUpperCase())
    .join('');
}

const ROLE_KEYS = { participant: 'role.participant', employee: 'role.employee', organizer: 'role.organizer' };

/** A role in the reader's language ("Participant", "Teilnehmende"). */
export function roleName(role) {
  return ROLE_KEYS[role] ? t(ROLE_KEYS[role]) : role;
}

export function capitalize(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : '';
}
