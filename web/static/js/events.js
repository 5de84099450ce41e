// The event a person is looking at: the one they picked in this tab, else the first one.

import { api } from './api.js';

const EVENT_KEY = 'duet.event';

export async function currentEvent() {
  const { events } = await api.get('/events');
  const wanted = sessionStorage.getItem(EVENT_KEY);
  const event = events.find((e) => e.id === wanted) || events[0] || null;
  return { event, events };
}

export function chooseEvent(eventId) {
  sessionStorage.setItem(EVENT_KEY, eventId);
}

export function companyNamer(event) {
  const names = new Map((event?.quotas || []).map((q) => [q.company_id, q.company_name]));
  return (companyId) => names.get(companyId) || companyId;
}
