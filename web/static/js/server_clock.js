// The server's clock, as seen from here: the last `now` the API sent plus monotonic time since.
// Countdowns use this, never Date.now(), so a laptop whose clock is off still opens Join on time.

let anchor = null; // { serverMs, monoMs }

export function syncServerClock(iso) {
  const serverMs = typeof iso === 'number' ? iso : Date.parse(iso);
  if (Number.isFinite(serverMs)) anchor = { serverMs, monoMs: performance.now() };
}

export function serverNow() {
  if (!anchor) return Date.now();
  return anchor.serverMs + (performance.now() - anchor.monoMs);
}

export function msUntil(iso) {
  return Date.parse(iso) - serverNow();
}
