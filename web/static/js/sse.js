// Server-Sent Events read with fetch, so the bearer token travels in a header as on every other
// request (EventSource cannot send one, and a token in a URL ends up in logs): docs/live.md.

import { t } from './i18n.js';
import { session } from './session.js';

/**
 * Opens `path` and calls onEvent(name, data) per event; reconnects with backoff (a new
 * `snapshot` then arrives) until `scope` is disposed. onStatus('open' | 'reconnecting').
 */
export function openEventStream(path, { scope, onEvent, onStatus = () => {}, onRefused = () => {} }) {
  let controller = null;
  let delay = 500;
  let stopped = false;
  scope.onDispose(() => {
    stopped = true;
    if (controller) controller.abort();
  });

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const resp = await fetch(`/api/v1${path}`, {
          headers: { Accept: 'text/event-stream', Authorization: `Bearer ${session.token}` },
          cache: 'no-store',
          signal: controller.signal,
        });
        if (resp.status === 401 || resp.status === 403 || resp.status === 404) {
          const problem = await resp.json().catch(() => ({}));
          onRefused(problem.detail || t('stream.refused', { status: String(resp.status) }));
          return;
        }
        // Any other answer (a 5xx from a node going away) is retried after the backoff below.
        if (resp.ok && resp.body) {
          onStatus('open');
          delay = 500;
          await readEvents(resp.body, onEvent);
        }
      } catch (err) {
        if (stopped) return;
      }
      if (stopped) return;
      onStatus('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 10000);
    }
  }
  run();
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = text;
        else if (field === 'data') data.push(text);
      }
      if (data.length) {
        try {
          onEvent(name, JSON.parse(data.join('\n')));
        } catch (err) {
          console.warn('bad event', name, err);
        }
      }
    }
  }
}
