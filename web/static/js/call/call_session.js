// One person in one call: the signaling socket, the peer connection, the chat and the screen,
// following docs/protocol.md. Exposed as window.duetCall for tests and debugging.

import { feedbackForm } from '../after_chat.js';
import { api } from '../api.js';
import { serverNow, syncServerClock } from '../server_clock.js';
import { timeOf } from '../format.js';
import { t } from '../i18n.js';
import { toast } from '../ui.js';
import { ChatPanel } from './chat_panel.js';
import { CallView, endedView } from './call_view.js';
import { PeerLink } from './peer_link.js';
import { SignalingSocket, closeSentence, errorSentence } from './signaling_socket.js';
import { listDevices, openTrack } from './local_media.js';
import { STATS_EVERY_MS, measureStats } from './call_stats.js';
import { h, replace } from '../dom.js';
import { joinWindowSentence } from '../join_control.js';

const WAS_IN_CALL = 'duet.in-call.';
// Ends after which joining again cannot help: the chat is over, moved or gone, or the app is old.
const NO_REJOIN = new Set([4005, 4006, 4007, 4009, 4010, 4012]);
// room_closing's reason → the close code whose sentence says it (signaling/presence.py).
const CLOSING_CODES = { ended: 4009, cancelled: 4007, rescheduled: 4012 };

/** The page was redrawn under the focused control (Join now, Leave): start again at the main
 * region rather than at the top of the document. */
function keepFocusOnPage() {
  if (document.activeElement && document.activeElement !== document.body) return;
  document.getElementById('app')?.focus({ preventScroll: true });
}

export class CallSession {
  /**
   * chat: the REST chat; media: {stream, mic, camera, speakerId}; root: where the call renders;
   * onRejoin({button, note, carry, flags}): "Join again" on the ended page, while the window is
   * open; carry: chat messages an earlier session could not send.
   */
  constructor({ chat, user, media, root, scope, onJoinFailed, onRejoin, home, timeZone, carry = [] }) {
    this.chat = chat;
    this.user = user;
    this.stream = media.stream;
    this.flags = { mic: media.mic, camera: media.camera, screen: false };
    this.speakerId = media.speakerId || '';
    this.root = root;
    this.scope = scope;
    this.onJoinFailed = onJoinFailed;
    this.home = home;
    this.onRejoin = onRejoin;
    this.timeZone = timeZone;
    this.peer = null; // PeerInfo from the server
    this.peerMedia = null;
    this.link = null;
    this.joined = null;
    this.screenTrack = null;
    this.roomEndsMono = 0; // the join window's close, on the monotonic clock
    this.graceMs = 0; // from the chat's (slot's) end to the room's close
    this.queue = Promise.resolve();
    this.ended = false;
    this.inCall = false;
    this.log = [];
    this.supportUrl = '';
    const peerName = user.id === chat.employee.id ? chat.participant.name : chat.employee.name;
    this.peerName = peerName;
    this.chatPanel = new ChatPanel({
      myId: user.id,
      names: { [chat.employee.id]: chat.employee.name, [chat.participant.id]: chat.participant.name },
      send: (msg) => this.socket.send(msg),
      onUnread: (count) => this.view && this.view.setUnread(count),
      timeZone,
      carry,
    });
    this.socket = new SignalingSocket({
      chatId: chat.id,
      onMessage: (msg) => this.enqueue(msg),
      onStatus: (status) => this.socketStatus(status),
      onFatal: (sentence, why) => this.fatal(sentence, why),
      getResume: (reconnecting) => this.resumeFor(reconnecting),
      onClose: (code) => this.log.push(`closed:${code}`),
      onGrant: (grant) => {
        this.supportUrl = grant.support_url || '';
      },
    });
    scope.onDispose(() => this.hangUp(false));
    window.duetCall = this.testHooks();
  }

  testHooks() {
    const session = this;
    return {
      get pc() { return session.link ? session.link.pc : null; },
      get ws() { return session.socket.ws; },
      get state() {
        return {
          inCall: session.inCall,
          ended: session.ended,
          peer: session.peer,
          peerMedia: session.peerMedia,
          flags: { ...session.flags },
          offerer: session.joined ? session.joined.offerer : null,
          endsAt: session.joined ? session.joined.ends_at : null,
          polite: session.joined ? session.joined.polite : null,
          log: session.log.slice(),
          quality: session.quality || null,
          peerQuality: session.peerQualityMsg || null,
        };
      },
      messages: () => session.chatPanel.messages(),
      sendStats: () => session.sendStats(),
    };
  }

  start() {
    this.socket.start();
  }

  resumeFor(reconnecting) {
    if (reconnecting) {
      return { last_seq: this.chatPanel.resumeSeq, media_kept: Boolean(this.link && this.link.pc.connectionState !== 'closed') };
    }
    // After a page reload: take our seat back, with the whole chat (nothing shown yet).
    if (sessionStorage.getItem(WAS_IN_CALL + this.chat.id)) return { last_seq: 0, media_kept: false };
    return null;
  }

  enqueue(msg) {
    this.log.push(msg.type);
    if (this.log.length > 1000) this.log.splice(0, 500);
    this.queue = this.queue.then(() => this.handle(msg)).catch((err) => console.warn('call message failed', msg.type, err));
  }

  async handle(msg) {
    if (this.ended) return;
    switch (msg.type) {
      case 'joined': return this.onJoined(msg);
      case 'peer_joined':
        this.view.announce('joined', this.peerName);
        this.setPeer(msg.peer);
        return this.mediaAction(msg.media_action);
      case 'peer_left':
        this.peer = { ...this.peer, present: false, state: 'absent' };
        this.view.announce(msg.reason === 'left' ? 'left' : 'lost', this.peerName);
        this.closeLink();
        this.view.setStatus('absent', t(msg.reason === 'left' ? 'call.status.peer_left' : 'call.status.peer_lost', { name: this.peerName }));
        this.view.setPlaceholderText(t(msg.reason === 'left' ? 'call.peer_left' : 'call.waiting_back', { name: this.peerName }));
        return this.renderRemote();
      case 'peer_reconnecting':
        this.peer = { ...this.peer, state: 'reconnecting' };
        this.view.setStatus('reconnecting', t('call.status.peer_reconnecting', { name: this.peerName }));
        return undefined;
      case 'offer':
      case 'answer':
        if (!this.link) this.newLink();
        return this.link.onDescription(msg);
      case 'candidate':
        return this.link && this.link.onCandidate(msg);
      case 'track_info':
        if (!this.link) this.newLink();
        return this.link.onTrackInfo(msg);
      case 'media_state':
        this.peerMedia = { mic: msg.mic, camera: msg.camera, screen: msg.screen };
        this.view.setPeerFlags(this.peerMedia);
        return this.renderRemote();
      case 'ice_restart_request':
        return this.link && this.link.restartIce();
      case 'chat_message':
        if (msg.sender_id !== this.user.id && !this.chatPanel.bySeq.has(msg.seq)) this.view.announce('message', this.peerName, msg.text);
        if (this.chatPanel.addMessage(msg)) this.socket.drop(); // a gap: resume fills it
        return undefined;
      case 'chat_ack':
        return this.chatPanel.onAck(msg);
      case 'time_warning':
        return this.timeWarning(msg.seconds_left);
      case 'room_closing':
        return this.finish(t('call.ended.title'), closeSentence(CLOSING_CODES[msg.reason], msg.message), false);
      case 'replaced':
        return this.finish(t('call.ended.elsewhere'), closeSentence(4008, msg.message), true);
      case 'quality':
        this.quality = msg;
        return this.view.setQuality('me', msg.verdict, msg.words);
      case 'peer_quality':
        this.peerQualityMsg = msg;
        return this.view.setQuality('peer', msg.verdict, msg.words);
      case 'error':
        if (msg.ref_type === 'chat_send') return this.chatPanel.onSendError(msg);
        if (msg.ref_type === 'stats') return console.warn('stats refused', msg.message);
        if (msg.code !== 'peer_absent') toast(errorSentence(msg), 'error');
        return undefined;
      default:
        return undefined;
    }
  }

  onJoined(msg) {
    this.joined = msg;
    syncServerClock(msg.now);
    sessionStorage.setItem(WAS_IN_CALL + this.chat.id, '1');
    if (!this.inCall) this.showCall();
    // joined counts to the room's close; the chat itself ends with its slot, a grace earlier.
    this.roomEndsMono = performance.now() + msg.seconds_left * 1000;
    const chatEnds = this.chat.slot ? Date.parse(this.chat.slot.ends_at) : msg.ends_at;
    this.graceMs = Math.max(0, msg.ends_at - chatEnds);
    this.view.setTimeTitle(t('call.time_title', { ends: timeOf(chatEnds, this.timeZone), closes: timeOf(msg.ends_at, this.timeZone) }));
    this.tick();
    this.chatPanel.applyHistory(msg.history);
    this.chatPanel.setOnline(true);
    this.setPeer(msg.peer);
    this.sendMediaState();
    return this.mediaAction(msg.media_action);
  }

  setPeer(peer) {
    this.peer = peer;
    this.peerMedia = peer.media_state;
    this.view.setPeerFlags(peer.present ? peer.media_state : null);
    if (peer.state === 'connected') {
      const mediaUp = this.link && this.link.pc.connectionState === 'connected';
      this.view.setStatus('connected', t(mediaUp ? 'call.status.connected' : 'call.status.peer_here', { name: this.peerName }));
    }
    else if (peer.state === 'reconnecting') this.view.setStatus('reconnecting', t('call.status.peer_reconnecting', { name: this.peerName }));
    else {
      this.view.setStatus('absent', t('call.status.waiting', { name: this.peerName }));
      this.view.setPlaceholderText(t('call.waiting_to_join', { name: this.peerName }));
    }
    this.renderRemote();
  }

  mediaAction(action) {
    if (action === 'new_connection') {
      this.closeLink();
      this.newLink();
    } else if (action === 'ice_restart') {
      if (!this.link) this.newLink();
      else if (this.joined.offerer) this.link.restartIce();
    }
  }

  newLink() {
    this.link = new PeerLink({
      iceServers: this.joined.ice_servers,
      polite: this.joined.polite,
      offerer: this.joined.offerer,
      keepIds: this.joined.media_mode === 'relay',
      send: (msg) => this.socket.send(msg),
      onRemote: () => this.renderRemote(),
      onState: (state) => this.mediaStatus(state),
    });
    this.link.start(this.stream, this.flags.screen ? this.screenTrack : null);
  }

  closeLink() {
    if (this.link) this.link.close();
    this.link = null;
    this.renderRemote();
  }

  renderRemote() {
    if (!this.view) return;
    const remote = this.link ? this.link.remote() : { camera: null, screen: null, audio: null };
    this.view.showRemote(remote, this.peerMedia, Boolean(this.peer && this.peer.present));
  }

  mediaStatus(state) {
    if (!this.view || !this.peer || this.peer.state !== 'connected') return;
    if (state === 'connected') this.view.setStatus('connected', t('call.status.connected', { name: this.peerName }));
    else if (state === 'connecting' || state === 'new') this.view.setStatus('connecting', t('call.status.media_connecting'));
    else if (state === 'disconnected' || state === 'failed') this.view.setStatus('reconnecting', t('call.status.media_reconnecting'));
    this.renderRemote();
  }

  socketStatus(status) {
    if (!this.view) return;
    if (status === 'reconnecting') {
      this.chatPanel.setOnline(false);
      this.view.setStatus('reconnecting', t('call.status.self_reconnecting'));
      this.view.showBanner(t('call.banner.lost'), 'warn');
    } else if (status === 'open') {
      this.view.showBanner('');
    }
  }

  sendMediaState() {
    this.socket.send({ type: 'media_state', ...this.flags });
    if (this.view) this.view.setLocalFlags(this.flags);
  }

  tick() {
    if (this.ended) return;
    const roomMs = this.roomEndsMono - performance.now();
    const chatLeft = Math.max(0, Math.ceil((roomMs - this.graceMs) / 1000));
    this.view.setTimeLeft(chatLeft, Math.max(0, Math.ceil(roomMs / 1000)));
  }

  /** The server warns before the room closes; people hear how long their chat has left. */
  timeWarning(secondsLeft) {
    this.roomEndsMono = performance.now() + secondsLeft * 1000;
    const chatMinutes = Math.round((secondsLeft - this.graceMs / 1000) / 60);
    const roomMinutes = Math.max(1, Math.round(secondsLeft / 60));
    let text;
    if (chatMinutes > 1) text = t('call.warning.minutes_left', { count: chatMinutes });
    else if (chatMinutes === 1) text = t('call.warning.one_minute');
    else text = t('call.warning.time_up', { count: roomMinutes });
    this.view.showBanner(text, chatMinutes <= 1 ? 'danger' : 'warn');
    toast(text, 'info');
    this.tick();
  }

  showCall() {
    this.inCall = true;
    this.view = new CallView({
      peerName: this.peerName,
      myName: this.user.name,
      supportUrl: this.supportUrl,
      chatPanel: this.chatPanel,
      handlers: {
        toggleMic: () => this.toggle('mic'),
        toggleCamera: () => this.toggle('camera'),
        toggleScreen: () => (this.flags.screen ? this.stopScreen() : this.startScreen()),
        toggleChat: () => this.toggleChat(),
        leave: () => this.leave(),
        askSupport: (text, button, note) => this.askSupport(text, button, note),
      },
    });
    this.view.localVideo.srcObject = this.stream;
    this.view.setLocalFlags(this.flags);
    replace(this.root, this.view.root);
    keepFocusOnPage();
    document.body.classList.add('in-call');
    this.scope.onDispose(() => document.body.classList.remove('in-call'));
    this.scope.every(1000, () => this.tick());
    this.scope.every(STATS_EVERY_MS, () => this.sendStats());
    // The chat drawer is closed by default on narrow screens; unread counts while it is hidden.
    const narrow = window.matchMedia('(max-width: 860px)');
    this.narrow = narrow;
    const visible = () => !document.hidden && (!narrow.matches || this.view.root.classList.contains('chat-open'));
    this.chatVisible = visible;
    this.chatPanel.setVisible(visible());
    this.scope.listen(document, 'visibilitychange', () => this.chatPanel.setVisible(visible()));
    this.scope.listen(narrow, 'change', () => this.chatPanel.setVisible(visible()));
    this.fillDevices();
  }

  /** docs/protocol.md "Call quality": the figures of the last interval, while media flows. */
  async sendStats() {
    const link = this.link;
    if (this.ended || !link || link.pc.connectionState !== 'connected') return;
    try {
      const { msg, state } = await measureStats(link.pc, this.joined && this.joined.media_mode === 'relay', link === this.statsLink ? this.statsState : {});
      this.statsLink = link;
      this.statsState = state;
      this.socket.send(msg);
    } catch (err) {
      console.warn('stats could not be read', err);
    }
  }

  /** The Support button: a request on the organizer's live board; the answer comes in the chat. */
  async askSupport(text, button, note) {
    button.disabled = true;
    try {
      await api.post(`/chats/${this.chat.id}/support`, { text });
      this.view.supportText.value = '';
      note.textContent = t('call.help.sent');
      note.dataset.kind = 'success';
      toast(t('call.help.reached'), 'success');
    } catch (err) {
      note.textContent = err.message || t('call.help.failed');
      note.dataset.kind = 'error';
    } finally {
      button.disabled = false;
    }
  }

  toggleChat() {
    this.view.setChatOpen(!this.view.root.classList.contains('chat-open'), this.narrow.matches);
    this.chatPanel.setVisible(this.chatVisible());
  }

  toggle(kind) {
    this.flags[kind] = !this.flags[kind];
    const tracks = kind === 'mic' ? this.stream.getAudioTracks() : this.stream.getVideoTracks();
    for (const track of tracks) track.enabled = this.flags[kind];
    this.sendMediaState();
  }

  async startScreen() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10, max: 15 } }, audio: false });
    } catch (err) {
      if (err && err.name !== 'NotAllowedError') toast(t('call.error.share'), 'error');
      return;
    }
    const track = stream.getVideoTracks()[0];
    track.contentHint = 'detail';
    track.addEventListener('ended', () => this.stopScreen());
    this.screenTrack = track;
    this.flags.screen = true;
    if (this.link) await this.link.startScreen(track);
    this.sendMediaState();
  }

  async stopScreen() {
    if (!this.flags.screen) return;
    this.flags.screen = false;
    if (this.link) await this.link.stopScreen();
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
    this.sendMediaState();
  }

  async fillDevices() {
    const { cameras, mics, speakers } = await listDevices();
    const current = (kind) => {
      const track = kind === 'video' ? this.stream.getVideoTracks()[0] : this.stream.getAudioTracks()[0];
      return track ? track.getSettings().deviceId : '';
    };
    const select = (label, list, kind) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label),
      h('select', { dataset: { device: kind }, onchange: (e) => this.switchDevice(kind, e.target.value) },
        list.map((d) => h('option', { value: d.id, selected: d.id === current(kind) || d.id === this.speakerId }, d.label))));
    const supportsSink = 'setSinkId' in HTMLMediaElement.prototype;
    replace(this.view.devicesPanel,
      cameras.length ? select(t('device.camera'), cameras, 'video') : null,
      mics.length ? select(t('device.microphone'), mics, 'audio') : null,
      supportsSink && speakers.length ? select(t('device.speaker'), speakers, 'speaker') : null,
      h('button', { class: 'btn btn-ghost btn-small', type: 'button', onclick: () => this.view.setDevicesOpen(false) }, t('call.devices_done')));
    if (this.speakerId && supportsSink) this.view.remoteAudio.setSinkId(this.speakerId).catch(() => {});
  }

  async switchDevice(kind, deviceId) {
    if (kind === 'speaker') {
      this.speakerId = deviceId;
      await this.view.remoteAudio.setSinkId(deviceId).catch(() => toast(t('call.error.speaker'), 'error'));
      return;
    }
    let track;
    try {
      track = await openTrack(kind, deviceId);
    } catch {
      toast(t('call.error.device'), 'error');
      return;
    }
    const old = kind === 'video' ? this.stream.getVideoTracks()[0] : this.stream.getAudioTracks()[0];
    track.enabled = kind === 'video' ? this.flags.camera : this.flags.mic;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    if (this.link) await this.link.replaceLocalTrack(kind, track);
    if (kind === 'video') this.view.localVideo.srcObject = new MediaStream(this.stream.getVideoTracks());
  }

  fatal(sentence, { code = null, status = null } = {}) {
    if (!this.inCall) {
      this.stopMedia();
      this.chatPanel.stop();
      this.ended = true;
      this.onJoinFailed(sentence);
      return;
    }
    // A refusal of the join endpoint (status) is the server's word on this chat; a close for
    // something this connection did (too fast, too big) ends only this connection.
    this.finish(t('call.ended.no_longer'), sentence, status === null && !NO_REJOIN.has(code));
  }

  leave() {
    this.socket.leave();
    this.finish(t('call.ended.left'), null, true);
  }

  /** When the chat's window closes (server clock, ms): no joining after it. */
  roomClosesAt() {
    return this.joined ? this.joined.ends_at : Date.parse(this.chat.join.join_closes_at);
  }

  finish(title, message, canRejoin) {
    if (this.ended) return;
    this.ended = true;
    this.socket.stop();
    this.chatPanel.stop();
    this.closeLink();
    this.stopMedia();
    sessionStorage.removeItem(WAS_IN_CALL + this.chat.id);
    document.body.classList.remove('in-call');
    let closesAt = this.roomClosesAt();
    const offer = Boolean(canRejoin && this.onRejoin);
    const ended = endedView({
      title,
      message,
      home: this.home,
      rejoin: offer ? {
        until: timeOf(closesAt, this.timeZone),
        onJoin: (button, note) => this.onRejoin({
          button, note, carry: this.chatPanel.unsent(), flags: { mic: this.flags.mic, camera: this.flags.camera },
        }),
      } : null,
    });
    replace(this.root, ended.root);
    // The participant's short feedback, right after leaving (docs: organizers see only sums).
    if (this.user.id === this.chat.participant.id) ended.root.append(feedbackForm(this.chat));
    keepFocusOnPage();
    if (!offer) return;
    const over = (sentence) => {
      clearInterval(timer);
      if (ended.root.isConnected) ended.closeRejoin(sentence || t('call.rejoin_over'));
    };
    // Joining again is offered only while the window is open, counted on the server's clock.
    const check = () => {
      if (!ended.root.isConnected) clearInterval(timer);
      else if (serverNow() >= closesAt) over();
    };
    const timer = setInterval(check, 1000);
    this.scope.onDispose(() => clearInterval(timer));
    check();
    // The server's word on the window, and its clock: a page that sat in a call only counted.
    api.get(`/chats/${this.chat.id}`).then((fresh) => {
      syncServerClock(fresh.join.now);
      if (!fresh.join.open) over(joinWindowSentence(fresh.join));
      else {
        closesAt = Date.parse(fresh.join.join_closes_at);
        check();
      }
    }, () => {});
  }

  stopMedia() {
    for (const track of this.stream.getTracks()) track.stop();
    if (this.screenTrack) this.screenTrack.stop();
  }

  /** Leaving the page (route change): hang up cleanly. */
  hangUp() {
    if (this.ended) return;
    this.ended = true;
    this.chatPanel.stop();
    if (this.inCall) this.socket.leave();
    else this.socket.stop();
    this.closeLink();
    this.stopMedia();
  }
}
