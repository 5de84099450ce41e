// Camera and microphone: opening them, listing devices, and a mic level meter (WebAudio).

import { t } from '../i18n.js';

const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };
const MICROPHONE = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export function describeMediaError(err) {
  switch (err && err.name) {
    case 'NotAllowedError':
      return t('media.blocked');
    case 'NotFoundError':
      return t('media.not_found');
    case 'NotReadableError':
      return t('media.busy');
    case 'OverconstrainedError':
      return t('media.gone');
    default:
      return t('media.failed');
  }
}

/** Opens mic and camera; falls back to whichever one works. Returns {stream, error}. */
export async function openLocalMedia({ cameraId, micId } = {}) {
  const video = cameraId ? { ...CAMERA, deviceId: { exact: cameraId } } : CAMERA;
  const audio = micId ? { ...MICROPHONE, deviceId: { exact: micId } } : MICROPHONE;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { stream: new MediaStream(), error: t('media.unsupported') };
  }
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio, video }), error: null };
  } catch (err) {
    for (const only of [{ audio }, { video }]) {
      try {
        return { stream: await navigator.mediaDevices.getUserMedia(only), error: describeMediaError(err) };
      } catch {
        // try the next one
      }
    }
    return { stream: new MediaStream(), error: describeMediaError(err) };
  }
}

export async function openTrack(kind, deviceId) {
  const constraints = kind === 'video'
    ? { video: { ...CAMERA, deviceId: { exact: deviceId } } }
    : { audio: { ...MICROPHONE, deviceId: { exact: deviceId } } };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  return kind === 'video' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
}

export async function listDevices() {
  const devices = navigator.mediaDevices ? await navigator.mediaDevices.enumerateDevices() : [];
  const named = (list, key) => list.map((d, i) => ({ id: d.deviceId, label: d.label || t(key, { number: i + 1 }) }));
  return {
    cameras: named(devices.filter((d) => d.kind === 'videoinput'), 'device.camera_n'),
    mics: named(devices.filter((d) => d.kind === 'audioinput'), 'device.microphone_n'),
    speakers: named(devices.filter((d) => d.kind === 'audiooutput'), 'device.speaker_n'),
  };
}

/** Draws the microphone's level into a bar element (width in %), using an AnalyserNode. */
export class MicMeter {
  constructor(bar) {
    this.bar = bar;
    this.context = null;
    this.source = null;
    this.frame = 0;
    this.level = 0;
  }

  attach(track) {
    this.detach();
    if (!track) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    this.context = this.context || new Context();
    this.context.resume().catch(() => {});
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 512;
    this.source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = Math.sqrt(sum / samples.length);
      this.level = Math.min(1, rms * 4);
      this.bar.style.width = `${Math.round(this.level * 100)}%`;
      this.frame = requestAnimationFrame(tick);
    };
    tick();
  }

  detach() {
    cancelAnimationFrame(this.frame);
    if (this.source) this.source.disconnect();
    this.source = null;
  }

  close() {
    this.detach();
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
  }
}
