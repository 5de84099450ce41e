// The in-call screen: remote video large, own video small, a screen share taking the stage,
// the chat on the right, and the control bar. Only DOM here; call_session.js drives it.

import { h, replace } from '../dom.js';
import { clockDigits, initials } from '../format.js';
import { t } from '../i18n.js';
import { qualityLabel, qualitySentence } from './call_stats.js';

/** A connection indicator: good / fair / poor as a dot and a word, the figures in its tooltip. */
function qualityBadge(id, who) {
  return h('span', { class: 'quality', id, dataset: { verdict: 'unknown' }, title: t('quality.not_measured', { who }), tabindex: '0', role: 'img', 'aria-label': t('quality.not_measured_label', { who }) },
    h('span', { class: 'quality-dot', 'aria-hidden': 'true' }), h('span', { class: 'quality-word', 'aria-hidden': 'true' }, t('quality.word', { who, verdict: qualityLabel('unknown') })));
}

// What a screen reader hears when the other person comes and goes, and when they write.
const ANNOUNCE = {
  joined: (name) => t('call.announce.joined', { name }),
  left: (name) => t('call.announce.left', { name }),
  lost: (name) => t('call.announce.lost', { name }),
  message: (name, text) => t('call.announce.message', { name, text }),
};
// The announcements kept in the live region (older ones are dropped).
const ANNOUNCE_KEEP = 5;

function video(id, { muted = false, label } = {}) {
  return h('video', { id, autoplay: true, playsInline: true, muted, 'aria-label': label });
}

function toggle(label, action, onclick) {
  // No aria-pressed: the label says what pressing does (Mute / Unmute), and a pressed "Mute"
  // would read as muted.
  return h('button', { class: 'control', type: 'button', dataset: { action }, onclick }, h('span', { class: 'control-icon', 'aria-hidden': 'true' }), h('span', { class: 'control-label' }, label));
}

export class CallView {
  constructor({ peerName, myName, supportUrl, chatPanel, handlers }) {
    this.peerName = peerName;
    this.remoteCamera = video('remote-camera', { label: t('call.peer_camera', { name: peerName }) });
    this.remoteScreen = video('remote-screen', { label: t('call.peer_screen', { name: peerName }) });
    this.localVideo = video('local-video', { muted: true, label: t('call.your_camera') });
    this.remoteAudio = h('audio', { id: 'remote-audio', autoplay: true });
    this.status = h('span', { class: 'call-status', id: 'call-status', role: 'status', dataset: { state: 'connecting' } }, t('call.status.connecting'));
    this.timeLeft = h('span', { class: 'time-left', id: 'time-left', 'aria-live': 'off' }, '');
    this.banner = h('div', { class: 'call-banner', id: 'call-banner', role: 'status', hidden: true });
    this.peerFlags = h('div', { class: 'tile-flags', id: 'peer-flags' });
    this.myQuality = qualityBadge('my-quality', t('call.you'));
    this.peerQuality = qualityBadge('peer-quality', peerName);
    this.selfFlags = h('div', { class: 'tile-flags' });
    this.placeholder = h('div', { class: 'tile-placeholder', id: 'peer-placeholder' },
      h('span', { class: 'avatar avatar-large', 'aria-hidden': 'true' }, initials(peerName)),
      h('span', { class: 'placeholder-text' }, t('call.waiting_to_join', { name: peerName })));
    this.cameraTile = h('div', { class: 'tile tile-remote-camera' }, this.remoteCamera, this.placeholder,
      h('span', { class: 'tile-name' }, peerName), this.peerFlags);
    this.screenTile = h('div', { class: 'tile tile-remote-screen', hidden: true }, this.remoteScreen,
      h('span', { class: 'tile-name' }, t('call.peer_screen', { name: peerName })));
    this.selfTile = h('div', { class: 'tile tile-self' }, this.localVideo, h('span', { class: 'tile-name', title: myName }, t('call.you')), this.selfFlags);
    this.stage = h('div', { class: 'stage', id: 'stage' }, this.screenTile, this.cameraTile, this.selfTile, this.remoteAudio, this.banner);

    this.micButton = toggle(t('call.control.mic'), 'toggle-mic', handlers.toggleMic);
    this.cameraButton = toggle(t('device.camera'), 'toggle-camera', handlers.toggleCamera);
    this.shareButton = toggle(t('call.control.share'), 'share-screen', handlers.toggleScreen);
    this.devicesButton = toggle(t('call.control.devices'), 'devices', () => this.setDevicesOpen(this.devicesPanel.hidden));
    this.devicesButton.setAttribute('aria-expanded', 'false');
    this.devicesButton.setAttribute('aria-controls', 'devices-panel');
    this.unreadBadge = h('span', { class: 'unread-badge', hidden: true, id: 'unread-badge' });
    this.chatButton = h('button', { class: 'control control-chat', type: 'button', dataset: { action: 'toggle-chat' }, 'aria-expanded': 'false', 'aria-controls': 'chat-panel', onclick: handlers.toggleChat },
      h('span', { class: 'control-icon', 'aria-hidden': 'true' }), h('span', { class: 'control-label' }, t('call.control.chat')), this.unreadBadge);
    this.devicesPanel = h('div', { class: 'devices-panel card', id: 'devices-panel', hidden: true, role: 'group', 'aria-label': t('call.control.devices') });
    this.devicesPanel.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      event.preventDefault();
      this.setDevicesOpen(false);
    });
    // Support: a request to the organizer's live board, with an optional sentence (docs/live.md);
    // the event's own help page too, where it has one.
    this.supportText = h('textarea', { id: 'support-text', rows: 3, maxlength: 500, 'aria-label': t('call.help.question'), placeholder: t('call.help.question') });
    this.supportNote = h('div', { class: 'support-note', role: 'status' });
    this.supportSend = h('button', { class: 'btn btn-primary btn-small', type: 'submit', dataset: { action: 'send-support-request' } }, t('call.help.send'));
    this.supportPanel = h('form', {
      class: 'support-panel card', id: 'support-panel', hidden: true,
      onsubmit: (e) => {
        e.preventDefault();
        handlers.askSupport(this.supportText.value.trim(), this.supportSend, this.supportNote);
      },
    },
    h('h2', {}, t('call.help.title')),
    h('p', { class: 'muted small' }, t('call.help.text')),
    this.supportText, this.supportNote,
    h('div', { class: 'row' }, this.supportSend,
      supportUrl ? h('a', { class: 'btn btn-ghost btn-small', href: supportUrl, target: '_blank', rel: 'noopener noreferrer' }, t('call.help.help_page')) : null,
      h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: () => this.setSupportOpen(false) }, t('ui.close'))));
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) this.shareButton.hidden = true;

    this.chatPanel = chatPanel;
    chatPanel.root.id = 'chat-panel';
    // Escape closes the phone's chat drawer (the Chat button is shown only there).
    chatPanel.root.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || !this.root.classList.contains('chat-open') || !this.chatButton.offsetParent) return;
      event.preventDefault();
      handlers.toggleChat();
    });
    this.announcer = h('div', { class: 'sr-only', id: 'call-announcer', role: 'log', 'aria-live': 'polite' });
    this.root = h('section', { class: 'call', id: 'call' },
      h('header', { class: 'call-bar' },
        h('div', { class: 'call-title' }, h('h1', { class: 'call-heading' }, h('strong', {}, t('call.chat_with', { name: peerName }))), this.status,
          h('span', { class: 'quality-pair' }, this.myQuality, this.peerQuality)),
        h('div', { class: 'call-bar-right' },
          this.timeLeft,
          h('button', { class: 'btn btn-ghost btn-small', type: 'button', dataset: { action: 'support' }, 'aria-expanded': 'false', onclick: () => this.setSupportOpen(this.supportPanel.hidden) }, t('call.support')),
          h('button', { class: 'btn btn-danger btn-small', type: 'button', dataset: { action: 'leave' }, onclick: handlers.leave }, t('call.leave')))),
      h('div', { class: 'call-body' }, this.stage, chatPanel.root),
      h('footer', { class: 'controls' }, this.micButton, this.cameraButton, this.shareButton, this.devicesButton, this.chatButton, this.devicesPanel, this.supportPanel),
      this.announcer);
  }

  /** who: 'me' | 'peer'; verdict good | fair | poor | unknown; words: the server's sentence. */
  setQuality(who, verdict, words) {
    const badge = who === 'me' ? this.myQuality : this.peerQuality;
    const name = who === 'me' ? t('call.you') : this.peerName;
    const said = t('quality.tooltip', { who: name, sentence: qualitySentence(verdict, words) });
    badge.dataset.verdict = verdict;
    badge.title = said;
    badge.setAttribute('aria-label', said);
    badge.querySelector('.quality-word').textContent = t('quality.word', { who: name, verdict: qualityLabel(verdict) });
  }

  setSupportOpen(open) {
    this.supportPanel.hidden = !open;
    this.root.querySelector('[data-action="support"]').setAttribute('aria-expanded', String(open));
    if (open) this.supportText.focus();
  }

  /** Tell a screen reader: kind is one of ANNOUNCE's keys. */
  announce(kind, ...args) {
    this.announcer.append(h('p', {}, ANNOUNCE[kind](...args)));
    while (this.announcer.childElementCount > ANNOUNCE_KEEP) this.announcer.firstElementChild.remove();
  }

  /** The phone's chat drawer: opening moves the focus into it, closing returns it to the button. */
  setChatOpen(open, moveFocus) {
    this.root.classList.toggle('chat-open', open);
    this.chatButton.setAttribute('aria-expanded', String(open));
    if (!moveFocus) return;
    if (open) this.chatPanel.input.focus();
    else this.chatButton.focus();
  }

  /** Opening moves the focus into the panel; closing from inside it returns it to the button. */
  setDevicesOpen(open) {
    const hadFocus = this.devicesPanel.contains(document.activeElement);
    this.devicesPanel.hidden = !open;
    this.devicesButton.setAttribute('aria-expanded', String(open));
    if (open) this.devicesPanel.querySelector('select, button')?.focus();
    else if (hadFocus) this.devicesButton.focus();
  }

  setStatus(state, text) {
    this.status.dataset.state = state;
    this.status.textContent = text;
  }

  showBanner(text, kind = 'warn') {
    this.banner.hidden = !text;
    this.banner.className = `call-banner call-banner-${kind}`;
    this.banner.textContent = text || '';
  }

  /**
   * chatLeft: seconds until the chat's own end (the slot's); roomLeft: until the room closes
   * (the chat's end plus the event's grace). The grace is overtime, said as such.
   */
  setTimeLeft(chatLeft, roomLeft) {
    const overtime = chatLeft <= 0;
    this.timeLeft.textContent = overtime ? t('call.overtime', { time: clockDigits(roomLeft) }) : t('call.time_left', { time: clockDigits(chatLeft) });
    this.timeLeft.dataset.phase = overtime ? 'overtime' : 'chat';
    this.timeLeft.classList.toggle('is-warning', chatLeft <= 300);
    this.timeLeft.classList.toggle('is-critical', chatLeft <= 60);
  }

  setTimeTitle(text) {
    this.timeLeft.title = text;
  }

  setToggle(button, on, offLabel, onLabel) {
    button.classList.toggle('is-off', !on);
    button.querySelector('.control-label').textContent = on ? onLabel : offLabel;
  }

  setLocalFlags({ mic, camera, screen }) {
    this.setToggle(this.micButton, mic, t('call.control.unmute'), t('call.control.mute'));
    this.setToggle(this.cameraButton, camera, t('call.control.start_video'), t('call.control.stop_video'));
    this.shareButton.classList.toggle('is-active', screen);
    this.shareButton.querySelector('.control-label').textContent = t(screen ? 'call.control.stop_sharing' : 'call.control.share');
    replace(this.selfFlags, mic ? null : h('span', { class: 'flag flag-mic-off' }, t('call.flag.mic_off')), screen ? h('span', { class: 'flag flag-sharing' }, t('call.flag.sharing')) : null);
    this.selfTile.classList.toggle('camera-off', !camera);
  }

  setPeerFlags(state) {
    replace(
      this.peerFlags,
      state && !state.mic ? h('span', { class: 'flag flag-mic-off', dataset: { flag: 'mic-off' } }, t('call.flag.mic_off')) : null,
      state && !state.camera ? h('span', { class: 'flag flag-camera-off', dataset: { flag: 'camera-off' } }, t('call.flag.camera_off')) : null,
    );
  }

  /** remote: {camera, screen, audio} tracks; peerState: media_state flags; present: bool */
  showRemote(remote, peerMedia, present) {
    setTrack(this.remoteCamera, remote.camera);
    setTrack(this.remoteAudio, remote.audio);
    const showScreen = Boolean(remote.screen && (!peerMedia || peerMedia.screen));
    setTrack(this.remoteScreen, showScreen ? remote.screen : null);
    this.screenTile.hidden = !showScreen;
    this.stage.classList.toggle('has-screen', showScreen);
    const cameraVisible = Boolean(remote.camera && present && (!peerMedia || peerMedia.camera));
    this.cameraTile.classList.toggle('camera-off', !cameraVisible);
    this.placeholder.hidden = cameraVisible;
    if (present && !cameraVisible) {
      this.setPlaceholderText(t(peerMedia && !peerMedia.camera ? 'call.peer_camera_off' : 'call.connecting_to', { name: this.peerName }));
    }
  }

  setPlaceholderText(text) {
    this.placeholder.querySelector('.placeholder-text').textContent = text;
  }

  setUnread(count) {
    this.unreadBadge.hidden = !count;
    this.unreadBadge.textContent = count ? String(count) : '';
  }
}

function setTrack(element, track) {
  const current = element.srcObject ? element.srcObject.getTracks()[0] : null;
  if (current === track) return;
  element.srcObject = track ? new MediaStream([track]) : null;
  if (track) element.play().catch(() => {});
}

/**
 * The screen after a call: a sentence, and what one can do next. rejoin: {until, onJoin(button,
 * note)} while the chat's window is open; `closeRejoin(sentence)` takes the offer away.
 */
export function endedView({ title, message, rejoin, home }) {
  const note = h('p', { class: 'muted rejoin-note', id: 'rejoin-note' }, rejoin ? t('call.rejoin_until', { time: rejoin.until }) : '');
  const button = rejoin
    ? h('button', { class: 'btn btn-primary', type: 'button', dataset: { action: 'rejoin' }, onclick: () => rejoin.onJoin(button, note) }, t('call.join_again'))
    : null;
  const root = h('section', { class: 'call-ended card', id: 'call-ended' },
    h('h1', {}, title),
    message ? h('p', { class: 'ended-message' }, message) : null,
    rejoin ? note : null,
    h('div', { class: 'row' }, button, h('a', { class: 'btn btn-secondary', href: home }, t('call.back'))));
  return {
    root,
    closeRejoin(sentence) {
      if (button) button.remove();
      note.textContent = sentence || '';
      note.hidden = !sentence;
    },
  };
}
