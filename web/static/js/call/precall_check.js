// The server-side pre-call check (GET/POST/DELETE /api/v1/precall): send our camera and mic to
// Duet's test peer, show what it echoes back, and read its verdict about once a second.
// No trickle: the offer goes out once ICE gathering is complete; the answer carries the server's
// candidates. Only Duet's own ICE servers are used, never a public STUN server.

import { ApiError, request } from '../api.js';
import { session } from '../session.js';
import { t } from '../i18n.js';

const POLL_MS = 1000;
const SETTLE_LIMIT_MS = 10_000;
const GATHER_LIMIT_MS = 5000;

/** A verdict is settled once camera, microphone and connection are no longer "checking". */
export function settled(report) {
  return Boolean(report) && ['camera', 'microphone', 'connection'].every((k) => report[k] !== 'checking');
}

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', onChange);
      resolve();
    };
    const onChange = () => pc.iceGatheringState === 'complete' && done();
    // Past the limit, send what was gathered: host candidates come first and are enough here.
    const timer = setTimeout(done, GATHER_LIMIT_MS);
    pc.addEventListener('icegatheringstatechange', onChange);
  });
}

export class PrecallCheck {
  /** onEcho(MediaStream|null): what the server sends back; onReport(report): each verdict. */
  constructor({ onEcho, onReport }) {
    this.onEcho = onEcho;
    this.onReport = onReport;
    this.pc = null;
    this.id = null;
    this.cancelled = false;
    this.timer = 0;
    this.wake = null;
  }

  /** Runs the whole check; resolves to the last verdict (null if cancelled), rejects with ApiError. */
  async run(stream) {
    const tracks = stream.getTracks().filter((t) => t.readyState === 'live');
    if (!tracks.length) {
      throw new ApiError({ detail: t('precall.no_tracks') }, 0);
    }
    const setup = await request('GET', '/precall');
    if (this.cancelled) return null;
    const pc = new RTCPeerConnection({ iceServers: setup.ice_servers || [], bundlePolicy: 'max-bundle' });
    this.pc = pc;
    const echo = new MediaStream();
    pc.ontrack = ({ track }) => {
      echo.addTrack(track);
      this.onEcho(echo);
    };
    for (const track of tracks) pc.addTransceiver(track, { direction: 'sendrecv', streams: [stream] });
    await pc.setLocalDescription();
    await gatheringComplete(pc);
    if (this.cancelled) return null;
    const answer = await request('POST', '/precall', { sdp: pc.localDescription.sdp, type: 'offer' });
    this.id = answer.id;
    if (this.cancelled) {
      await this.end();
      return null;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });

    const started = performance.now();
    let report = null;
    while (!this.cancelled) {
      await this.pause(POLL_MS);
      if (this.cancelled) break;
      report = await request('GET', `/precall/${encodeURIComponent(this.id)}`);
      if (this.cancelled) break;
      this.onReport(report);
      if (settled(report) || report.state === 'closed' || performance.now() - started >= SETTLE_LIMIT_MS) break;
    }
    if (this.cancelled) return null;
    const final = await this.end();
    return final || report;
  }

  pause(ms) {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  /** Ends the check on the server (DELETE → its final verdict) and closes our connection. */
  async end() {
    const id = this.id;
    this.id = null;
    this.closeConnection();
    if (!id) return null;
    try {
      return await request('DELETE', `/precall/${encodeURIComponent(id)}`);
    } catch {
      return null; // already gone (time limit): nothing left to end
    }
  }

  /** Stop now: Join was clicked, the devices changed, or the page is being left. */
  cancel() {
    if (this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.timer);
    if (this.wake) this.wake();
    this.end();
  }

  /** The tab is closing: a keepalive DELETE outlives the page; the promise-based path would not. */
  abandon() {
    const id = this.id;
    this.cancelled = true;
    this.id = null;
    clearTimeout(this.timer);
    this.closeConnection();
    if (!id) return;
    const headers = session.token ? { Authorization: `Bearer ${session.token}` } : {};
    fetch(`/api/v1/precall/${encodeURIComponent(id)}`, { method: 'DELETE', headers, keepalive: true }).catch(() => {});
  }

  closeConnection() {
    if (!this.pc) return;
    this.pc.ontrack = null;
    this.pc.close();
    this.pc = null;
    this.onEcho(null);
  }
}
