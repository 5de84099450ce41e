// Dates, times and durations in words and digits, in the viewer's time zone, with the event's
// zone beside them where it differs ("10:00 your time · 16:00 in Berlin"), in the reader's
// language (i18n.js locale()).

import { locale, t } from './i18n.js';

const cache = new Map();
let chosenZone = null; // the person's own setting (GET /me's time_zone); null: the browser's

function formatter(timeZone, options) {
  const key = `${locale()}|${timeZone}|${JSON.stringify(options)}`;
  if (!cache.has(key)) {
    cache.set(key, new Intl.DateTimeFormat(locale(), { timeZone: timeZone || undefined, ...options }));
  }
  return cache.get(key);
}

// Chromium's ICU still names some zones by their old IANA links; people read the current name.
const CURRENT_NAMES = {
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Asia/Rangoon': 'Asia/Yangon',
  'Europe/Kiev': 'Europe/Kyiv',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'America/Godthab': 'America/Nuuk',
};

/** An IANA name as people write it today ("Asia/Calcutta" → "Asia/Kolkata"). */
export function currentZoneName(zone) {
  return CURRENT_NAMES[zone] || zone;
}

/** The zone this browser is in (what Playwright's timezone_id sets). */
export function browserZone() {
  return currentZoneName(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
}

/** Use the person's own setting (null: follow the browser). */
export function setViewerZone(zone) {
  chosenZone = zone || null;
}

/** The zone every time on the page is shown in. */
export function viewerZone() {
  return chosenZone || browserZone();
}

/** "Europe/Berlin" → "Berlin", "America/Argentina/Buenos_Aires" → "Buenos Aires". */
export function cityOf(timeZone) {
  return (timeZone || 'UTC').split('/').pop().replaceAll('_', ' ');
}

/** Whether the viewer's wall clock and the event's read the same at that instant. */
export function sameWallClock(iso, eventZone) {
  if (!eventZone || eventZone === viewerZone()) return true;
  const wall = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  return formatter(viewerZone(), wall).format(new Date(iso)) === formatter(eventZone, wall).format(new Date(iso));
}

/** "13:00": the digits alone (the viewer's zone unless another is named), for grids whose
 * heading names the zone (see zoneNote). */
export function clockOf(iso, timeZone = viewerZone()) {
  return formatter(timeZone, { hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

/**
 * The zone's short name at that instant, as the reader's language writes it ("CET", "CEST",
 * "GMT+5:30"): without it a reader takes the digits for whatever clock they assume.
 */
export function zoneName(iso, timeZone = viewerZone()) {
  const part = formatter(timeZone, { timeZoneName: 'short' })
    .formatToParts(new Date(iso))
    .find((p) => p.type === 'timeZoneName');
  return part ? part.value : timeZone || '';
}

/** "13:00 CET", or "10:00 your time · 16:00 in Berlin" when the event's clock reads otherwise. */
export function timeOf(iso, eventZone) {
  const mine = clockOf(iso);
  if (sameWallClock(iso, eventZone)) return `${mine} ${zoneName(iso)}`;
  const theirs = dayOf(iso, eventZone) === dayOf(iso) ? clockOf(iso, eventZone) : `${dayOf(iso, eventZone)}, ${clockOf(iso, eventZone)}`;
  return t('format.your_time', { mine, theirs, city: cityOf(eventZone) });
}

export function dayOf(iso, timeZone = viewerZone()) {
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

/** The caption of a grid of bare times: "Times in CET (Europe/Berlin)", and where the event
 * runs on another clock, "Times in your zone, GMT+5:30 (Asia/Kolkata); the event is on Berlin
 * time (CET)". */
export function zoneNote(iso, eventZone) {
  const zone = viewerZone();
  const name = zoneName(iso);
  const own = zone !== name ? t('format.zone_named', { zone: name, tz: zone }) : name;
  if (sameWallClock(iso, eventZone)) return t('format.times_in', { zone: own });
  return t('format.times_in_yours', { zone: own, city: cityOf(eventZone), event_zone: zoneName(iso, eventZone) });
}

/** "Mon, 30 Nov, 10:57–11:27 CET", or "…, 15:27–15:57 your time · 10:57–11:27 in Berlin". */
export function slotRange(slot, eventZone) {
  if (!slot) return t('format.no_time');
  const start = slot.starts_at;
  const mine = `${dayOf(start)}, ${clockOf(start)}–${clockOf(slot.ends_at)}`;
  if (sameWallClock(start, eventZone)) return `${mine} ${zoneName(start)}`;
  const day = dayOf(start, eventZone) === dayOf(start) ? '' : `${dayOf(start, eventZone)}, `;
  return t('format.your_time', { mine, theirs: `${day}${clockOf(start, eventZone)}–${clockOf(slot.ends_at, eventZone)}`, city: cityOf(eventZone) });
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

export function capitalize(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : '';
}

const ROLE_KEYS = { participant: 'role.participant', employee: 'role.employee', organizer: 'role.organizer' };

/** A role in the reader's language ("Participant", "Teilnehmende"). */
export function roleName(role) {
  return ROLE_KEYS[role] ? t(ROLE_KEYS[role]) : role;
}
