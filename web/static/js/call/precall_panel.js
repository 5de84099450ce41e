// "Test my connection" on the pre-join page: a button, the echo from Duet's test server, the
// verdict's summary sentence and small indicators in plain words. Joining works without it.

import { h, replace } from '../dom.js';
import { alertBox } from '../ui.js';
import { PrecallCheck } from './precall_check.js';

// value → [words, tone]; tone colours the indicator (ok / warn / bad / pending).
const WORDS = {
  camera: {
    ok: ['Works', 'ok'],
    no_frames: ['No picture', 'bad'],
    checking: ['Checking…', 'pending'],
    unknown: ['Not checked', 'warn'],
  },
  microphone: {
    ok: ['Works', 'ok'],
    silent: ['We hear nothing', 'bad'],
    no_audio: ['No sound', 'bad'],
    checking: ['Checking…', 'pending'],
    unknown: ['Not checked', 'warn'],
  },
  connection: {
    good: ['Good', 'ok'],
    fair: ['Fair', 'warn'],
    poor: ['Poor', 'bad'],
    failed: ['Could not connect', 'bad'],
    checking: ['Measuring…', 'pending'],
    unknown: ['Not measured', 'warn'],
  },
  path: {
    direct: ['Direct', 'ok'],
    turn: ['Through our relay server', 'ok'],
    unknown: ['Not known yet', 'pending'],
  },
};

const LABELS = { camera: 'Camera', microphone: 'Microphone', connection: 'Connection', path: 'Route', rtt: 'Round trip' };

export class PrecallPanel {
  /** getStream(): resolves to the current camera/mic stream; scope: the page's lifetime. */
  constructor({ getStream, scope }) {
    this.getStream = getStream;
    this.check = null;
    this.button = h('button', { class: 'btn btn-secondary', type: 'button', id: 'precall-start', onclick: () => this.start() }, 'Test my connection');
    this.echo = h('video', { id: 'precall-echo', autoplay: true, playsInline: true, muted: true, 'aria-label': 'Your video as our test server receives it' });
    this.echoFrame = h('div', { class: 'precall-echo', hidden: true }, this.echo, h('span', { class: 'precall-echo-label' }, 'As our server sees you'));
    this.summary = h('p', { class: 'precall-summary', id: 'precall-summary', role: 'status', 'aria-live': 'polite' });
    this.indicators = h('dl', { class: 'precall-indicators', id: 'precall-indicators', hidden: true });
    this.message = h('div', { class: 'precall-message' });
    this.root = h('section', { class: 'precall', id: 'precall', dataset: { phase: 'idle' }, 'aria-label': 'Connection check' },
      h('div', { class: 'precall-head' },
        h('div', {}, h('h2', {}, 'Connection check'), h('p', { class: 'muted small' }, 'Sends your camera and microphone to Duet for a few seconds and tells you how it went.')),
        this.button),
      h('div', { class: 'precall-body' }, this.echoFrame, h('div', { class: 'precall-results' }, this.summary, this.indicators)),
      this.message);
    scope.onDispose(() => this.cancel());
    scope.listen(window, 'pagehide', () => this.check && this.check.abandon());
  }

  setPhase(phase) {
    this.root.dataset.phase = phase;
    this.button.disabled = phase === 'running';
    this.button.classList.toggle('is-busy', phase === 'running');
    this.button.textContent = phase === 'running' ? 'Testing…' : phase === 'idle' ? 'Test my connection' : 'Test again';
  }

  async start() {
    this.cancel();
    const check = new PrecallCheck({
      onEcho: (stream) => this.showEcho(stream),
      onReport: (report) => this.show(report),
    });
    this.check = check;
    replace(this.message);
    replace(this.summary, 'Connecting to our test server…');
    this.indicators.hidden = true;
    this.setPhase('running');
    try {
      const report = await check.run(await this.getStream());
      if (check.cancelled) return;
      if (report) this.show(report);
      this.setPhase('done');
    } catch (err) {
      if (check.cancelled) return;
      check.cancel();
      replace(this.summary);
      replace(this.message, alertBox(`${err && err.message ? err.message : 'The check could not run.'} You can still join the chat.`, 'warn'));
      this.setPhase('error');
    }
  }

  /** Join, a device change or leaving the page: stop the check (the server's peer is deleted). */
  cancel() {
    if (!this.check) return;
    const running = this.root.dataset.phase === 'running';
    this.check.cancel();
    this.check = null;
    if (running) {
      replace(this.summary, 'The check was stopped.');
      this.setPhase('idle');
    }
  }

  showEcho(stream) {
    this.echoFrame.hidden = !stream;
    if (this.echo.srcObject !== stream) this.echo.srcObject = stream;
    if (stream) this.echo.play().catch(() => {});
  }

  show(report) {
    replace(this.summary, report.summary || '');
    const item = (key, value, words, tone) => h('div', { class: 'precall-indicator' },
      h('dt', {}, LABELS[key]),
      h('dd', { dataset: { check: key, value: String(value), tone } }, words));
    const pick = (key) => {
      const value = report[key] || 'unknown';
      const [words, tone] = WORDS[key][value] || [value, 'warn'];
      return item(key, value, words, tone);
    };
    const rtt = report.rtt_ms;
    replace(this.indicators,
      pick('camera'), pick('microphone'), pick('connection'), pick('path'),
      item('rtt', rtt ?? '', rtt == null ? 'Not measured yet' : `${Math.round(rtt)} ms`, rtt == null ? 'pending' : rtt < 150 ? 'ok' : rtt < 400 ? 'warn' : 'bad'));
    this.indicators.hidden = false;
  }
}
