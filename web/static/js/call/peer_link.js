// One RTCPeerConnection to the other person, with the W3C "perfect negotiation" pattern,
// trickle ICE, track_info labels by transceiver mid, screen share on its own transceiver,
// and ICE restarts (docs/protocol.md section 6).

import { keepNegotiatedIds } from './sdp_ids.js';

const DISCONNECTED_GRACE_MS = 5000;

export class PeerLink {
  /**
   * send(msg): signaling out; onRemote(): remote tracks or labels changed;
   * onState(connectionState): ICE/DTLS state for the UI; keepIds: the other end is Duet's
   * relay, whose re-offers need the negotiated payload types and extension ids put back.
   */
  constructor({ iceServers, polite, offerer, send, onRemote, onState, keepIds = false }) {
    this.polite = polite;
    this.offerer = offerer;
    this.keepIds = keepIds;
    this.send = send;
    this.onRemote = onRemote;
    this.onState = onState;
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [], bundlePolicy: 'max-bundle' });
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.queuedCandidates = [];
    this.remotePurpose = new Map(); // mid → 'camera' | 'screen'
    this.remoteTracks = new Map(); // mid → MediaStreamTrack
    this.announced = new Map(); // mid → purpose we told the peer
    this.camera = null; // our camera transceiver
    this.mic = null; // our mic transceiver
    this.screen = null; // our screen transceiver
    this.localTracks = { audio: null, video: null };
    this.disconnectTimer = 0;
    this.closed = false;

    const pc = this.pc;
    pc.onnegotiationneeded = () => this.negotiate();
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate) {
        const c = candidate.toJSON();
        this.send({ type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null, usernameFragment: c.usernameFragment ?? null });
      } else {
        this.send({ type: 'candidate', candidate: null, sdpMid: null, sdpMLineIndex: null, usernameFragment: null });
      }
    };
    pc.ontrack = (event) => {
      const mid = event.transceiver.mid;
      this.remoteTracks.set(mid, event.track);
      event.track.addEventListener('mute', () => this.onRemote());
      event.track.addEventListener('unmute', () => this.onRemote());
      event.track.addEventListener('ended', () => this.onRemote());
      this.onRemote();
    };
    pc.onconnectionstatechange = () => this.onState(pc.connectionState);
    pc.oniceconnectionstatechange = () => this.watchIce();
  }

  /** The offerer creates the transceivers (camera, mic); the answerer reuses the offered ones. */
  start(stream, screenTrack = null) {
    this.localTracks.audio = stream.getAudioTracks()[0] || null;
    this.localTracks.video = stream.getVideoTracks()[0] || null;
    if (!this.offerer) {
      // The answerer adds a running screen share once the first offer/answer is done.
      this.pendingScreen = screenTrack;
      return;
    }
    this.mic = this.pc.addTransceiver(this.localTracks.audio || 'audio', { direction: 'sendrecv', streams: [stream] });
    this.camera = this.pc.addTransceiver(this.localTracks.video || 'video', { direction: 'sendrecv', streams: [stream] });
    if (screenTrack) this.screen = this.pc.addTransceiver(screenTrack, { direction: 'sendonly' });
  }

  async negotiate() {
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.announceTracks();
      this.send({ type: 'offer', sdp: this.pc.localDescription.sdp });
    } catch (err) {
      console.warn('negotiation failed', err);
    } finally {
      this.makingOffer = false;
    }
  }

  /** track_info {mid, purpose} for each of our sending transceivers whose mid is known. */
  announceTracks() {
    const label = (transceiver, purpose) => {
      if (!transceiver || !transceiver.mid || this.announced.get(transceiver.mid) === purpose) return;
      this.announced.set(transceiver.mid, purpose);
      this.send({ type: 'track_info', mid: transceiver.mid, purpose });
    };
    label(this.camera, 'camera');
    label(this.screen, 'screen');
  }

  async onDescription(msg) {
    const pc = this.pc;
    const current = pc.currentLocalDescription;
    // The relay's re-offers renumber what was negotiated; put the numbers in use back.
    const renumber = this.keepIds && msg.type === 'offer' && current;
    const description = { type: msg.type, sdp: renumber ? keepNegotiatedIds(msg.sdp, current.sdp) : msg.sdp };
    const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    try {
      await pc.setRemoteDescription(description); // a polite side rolls back implicitly
      await this.flushCandidates();
      if (description.type === 'offer') {
        this.adoptOfferedTransceivers();
        await pc.setLocalDescription();
        this.announceTracks();
        this.send({ type: 'answer', sdp: pc.localDescription.sdp });
        if (this.pendingScreen) {
          const track = this.pendingScreen;
          this.pendingScreen = null;
          await this.startScreen(track);
        }
      }
    } catch (err) {
      console.warn('description failed', err);
    }
  }

  /** Answerer: send our camera and mic on the first audio and camera m-lines the peer offered. */
  adoptOfferedTransceivers() {
    for (const t of this.pc.getTransceivers()) {
      if (t === this.screen || t.stopped || !t.mid) continue;
      const kind = t.receiver.track.kind;
      if (kind === 'audio' && !this.mic) {
        this.mic = t;
        t.direction = 'sendrecv';
        t.sender.replaceTrack(this.localTracks.audio);
      } else if (kind === 'video' && !this.camera && this.remotePurpose.get(t.mid) !== 'screen') {
        this.camera = t;
        t.direction = 'sendrecv';
        t.sender.replaceTrack(this.localTracks.video);
      }
    }
  }

  async onCandidate(msg) {
    const candidate = msg.candidate
      ? { candidate: msg.candidate, sdpMid: msg.sdpMid, sdpMLineIndex: msg.sdpMLineIndex, usernameFragment: msg.usernameFragment }
      : null;
    if (!candidate) return; // end of candidates: nothing to wait for in our UI
    if (!this.pc.remoteDescription) {
      this.queuedCandidates.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (err) {
      if (!this.ignoreOffer) console.warn('candidate failed', err);
    }
  }

  async flushCandidates() {
    const queued = this.queuedCandidates.splice(0);
    for (const candidate of queued) {
      try {
        await this.pc.addIceCandidate(candidate);
      } catch {
        // candidates of an ignored or replaced offer
      }
    }
  }

  onTrackInfo({ mid, purpose }) {
    this.remotePurpose.set(mid, purpose);
    this.onRemote();
  }

  /** The remote tracks by purpose; a video track without a label yet is held back. */
  remote() {
    const result = { camera: null, screen: null, audio: null };
    for (const [mid, track] of this.remoteTracks) {
      if (track.readyState === 'ended') continue;
      if (track.kind === 'audio') {
        result.audio ||= track;
        continue;
      }
      const purpose = this.remotePurpose.get(mid);
      const t = this.pc.getTransceivers().find((x) => x.mid === mid);
      const receiving = t && !t.stopped && (t.currentDirection === 'sendrecv' || t.currentDirection === 'recvonly');
      if (purpose === 'camera') result.camera = track;
      else if (purpose === 'screen' && receiving) result.screen = track;
    }
    return result;
  }

  restartIce() {
    if (this.closed) return;
    this.pc.restartIce();
  }

  /** ICE failed (or stayed disconnected for 5 s): the offerer restarts, the other side asks. */
  watchIce() {
    const state = this.pc.iceConnectionState;
    clearTimeout(this.disconnectTimer);
    if (state === 'failed') this.recoverIce();
    else if (state === 'disconnected') this.disconnectTimer = setTimeout(() => this.recoverIce(), DISCONNECTED_GRACE_MS);
    this.onState(this.pc.connectionState);
  }

  recoverIce() {
    if (this.closed) return;
    if (this.offerer) this.restartIce();
    else this.send({ type: 'ice_restart_request' });
  }

  async replaceLocalTrack(kind, track) {
    this.localTracks[kind] = track;
    const transceiver = kind === 'audio' ? this.mic : this.camera;
    if (transceiver) await transceiver.sender.replaceTrack(track);
  }

  async startScreen(track) {
    if (!this.offerer && !this.camera) {
      this.pendingScreen = track; // not negotiated yet: wait for the first offer
      return;
    }
    if (this.screen && !this.screen.stopped) {
      await this.screen.sender.replaceTrack(track);
      this.screen.direction = 'sendonly'; // fires negotiationneeded
    } else {
      this.screen = this.pc.addTransceiver(track, { direction: 'sendonly' });
    }
  }

  async stopScreen() {
    this.pendingScreen = null;
    if (!this.screen) return;
    await this.screen.sender.replaceTrack(null);
    this.screen.direction = 'inactive';
  }

  close() {
    this.closed = true;
    clearTimeout(this.disconnectTimer);
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.close();
  }
}
