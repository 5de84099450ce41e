// Dates, times and durations in words and digits, in the event's time zone.

const cache = new Map();

function formatter(timeZone, options) {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  if (!cache.has(key)) {
    cache.set(key, new Intl.DateTimeFormat(undefined, { timeZone: timeZone || undefined, ...options }));
  }
  return cache.get(key);
}

export function timeOf(iso, timeZone) {
  return formatter(timeZone, { hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
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

export function slotRange(slot, timeZone) {
  if (!slot) return 'No time yet';
  return `${dayOf(slot.starts_at, timeZone)}, ${timeOf(slot.starts_at, timeZone)}–${timeOf(slot.ends_at, timeZone)}`;
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
    return `${days} day${days === 1 ? '' : 's'} ${Math.floor((s % 86400) / 3600)} h`;
  }
  if (s >= 3600) {
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
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
