// "Test my connection" on the pre-join page: a button, the echo from Duet's test server, the
// verdict's summary sentence and small indicators in plain words. Joining works without it.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { alertBox } from '../ui.js';
import { PrecallCheck } from './precall_check.js';

// value → [words, tone]; tone colours the indicator (ok / warn / bad / pending).
const WORDS = {
  camera: {
    ok: ['precall.works', 'ok'],
    no_frames: ['precall.camera.no_frames', 'bad'],
    checking: ['precall.checking', 'pending'],
    unknown: ['precall.not_checked', 'warn'],
  },
  microphone: {
    ok: ['precall.works', 'ok'],
    silent: ['precall.microphone.silent', 'bad'],
    no_audio: ['precall.microphone.no_audio', 'bad'],
    checking: ['precall.checking', 'pending'],
    unknown: ['precall.not_checked', 'warn'],
  },
  connection: {
    good: ['precall.connection.good', 'ok'],
    fair: ['precall.connection.fair', 'warn'],
    poor: ['precall.connection.poor', 'bad'],
    failed: ['precall.connection.failed', 'bad'],
    checking: ['precall.measuring', 'pending'],
    unknown: ['precall.not_measured', 'warn'],
  },
  path: {
    direct: ['precall.path.direct', 'ok'],
    turn: ['precall.path.turn', 'ok'],
    unknown: ['precall.path.unknown', 'pending'],
  },
};

const LABELS = {
  camera: 'device.camera',
  microphone: 'device.microphone',
  connection: 'precall.label.connection',
  path: 'precall.label.path',
  rtt: 'precall.label.rtt',
};

export class PrecallPanel {
  /** getStream(): resolves to the current camera/mic stream; scope: the page's lifetime. */
  constructor({ getStream, scope }) {
    this.getStream = getStream;
    this.check = null;
    this.button = h('button', { class: 'btn btn-secondary', type: 'button', id: 'precall-start', onclick: () => this.start() }, t('precall.test'));
    this.echo = h('video', { id: 'precall-echo', autoplay: true, playsInline: true, muted: true, 'aria-label': t('precall.echo_label') });
    this.echoFrame = h('div', { class: 'precall-echo', hidden: true }, this.echo, h('span', { class: 'precall-echo-label' }, t('precall.echo_caption')));
    this.summary = h('p', { class: 'precall-summary', id: 'precall-summary', role: 'status', 'aria-live': 'polite' });
    this.indicators = h('dl', { class: 'precall-indicators', id: 'precall-indicators', hidden: true });
    this.message = h('div', { class: 'precall-message' });
    this.root = h('section', { class: 'precall', id: 'precall', dataset: { phase: 'idle' }, 'aria-label': t('precall.title') },
      h('div', { class: 'precall-head' },
        h('div', {}, h('h2', {}, t('precall.title')), h('p', { class: 'muted small' }, t('precall.intro'))),
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
    this.button.textContent = t(phase === 'running' ? 'precall.testing' : phase === 'idle' ? 'precall.test' : 'precall.test_again');
  }

  async start() {
    this.cancel();
    const check = new PrecallCheck({
      onEcho: (stream) => this.showEcho(stream),
      onReport: (report) => this.show(report),
    });
    this.check = check;
    replace(this.message);
    replace(this.summary, t('precall.connecting'));
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
      replace(this.message, alertBox(t('precall.failed', { reason: err && err.message ? err.message : t('precall.could_not_run') }), 'warn'));
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
      replace(this.summary, t('precall.stopped'));
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
      h('dt', {}, t(LABELS[key])),
      h('dd', { dataset: { check: key, value: String(value), tone } }, words));
    const pick = (key) => {
      const value = report[key] || 'unknown';
      const [words, tone] = WORDS[key][value] || [null, 'warn'];
      return item(key, value, words ? t(words) : value, tone);
    };
    const rtt = report.rtt_ms;
    replace(this.indicators,
      pick('camera'), pick('microphone'), pick('connection'), pick('path'),
      item('rtt', rtt ?? '', rtt == null ? t('precall.rtt_pending') : t('precall.rtt', { ms: Math.round(rtt) }), rtt == null ? 'pending' : rtt < 150 ? 'ok' : rtt < 400 ? 'warn' : 'bad'));
    this.indicators.hidden = false;
  }
}
