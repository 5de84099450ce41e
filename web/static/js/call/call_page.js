// #/chat/<id>: the pre-join check (camera preview, mic level, device pickers, a connection
// test against Duet's server), then the call.

import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { slotRange, initials } from '../format.js';
import { t } from '../i18n.js';
import { joinControl, joinWindowSentence } from '../join_control.js';
import { answerLine, loadQuestions } from '../questions.js';
import { alertBox, loading, showError } from '../ui.js';
import { CallSession } from './call_session.js';
import { MicMeter, listDevices, openLocalMedia } from './local_media.js';
import { PrecallPanel } from './precall_panel.js';
import { resumeLink } from '../resume.js';

export async function renderCall(root, { params, scope, user }) {
  const chatId = params[0];
  const home = `#/${user.role}${user.role === 'participant' ? '/schedule' : '/confirmed'}`;
  replace(root, loading(t('call.opening')));
  const chat = await api.get(`/chats/${chatId}`);
  const [event, questions] = await Promise.all([api.get(`/events/${chat.event_id}`), loadQuestions(chat.event_id)]);
  const peer = user.id === chat.employee.id ? chat.participant : chat.employee;

  const info = h('div', { class: 'precheck-info' },
    h('span', { class: 'avatar avatar-large', 'aria-hidden': 'true' }, initials(peer.name)),
    h('h1', {}, t('call.chat_with', { name: peer.name })),
    h('p', { class: 'muted' }, slotRange(chat.slot, event.timezone)),
    resumeLink(chat));

  if (chat.state !== 'confirmed' || chat.join.reason === 'ended' || chat.join.reason === 'cancelled') {
    replace(root, h('section', { class: 'precheck card' }, info,
      alertBox(joinWindowSentence(chat.join) || t('call.cannot_join'), 'info'),
      h('a', { class: 'btn btn-secondary', href: home }, t('call.back'))));
    return;
  }

  // Pre-join check
  const preview = h('video', { id: 'preview-video', autoplay: true, playsInline: true, muted: true, 'aria-label': t('call.preview') });
  const meterFill = h('span', { class: 'meter-fill', id: 'mic-level' });
  const meter = new MicMeter(meterFill);
  scope.onDispose(() => meter.close());
  const errors = h('div', { id: 'join-errors' });
  const mediaNote = h('div');
  const cameraSelect = h('select', { id: 'camera-select', 'aria-label': t('device.camera') });
  const micSelect = h('select', { id: 'mic-select', 'aria-label': t('device.microphone') });
  const speakerSelect = h('select', { id: 'speaker-select', 'aria-label': t('device.speaker') });
  const micOn = h('input', { type: 'checkbox', checked: true, id: 'join-mic' });
  const cameraOn = h('input', { type: 'checkbox', checked: true, id: 'join-camera' });
  let stream = new MediaStream();
  let handedOver = false;
  scope.onDispose(() => {
    if (!handedOver) for (const track of stream.getTracks()) track.stop();
  });

  async function open(ids) {
    for (const track of stream.getTracks()) track.stop();
    const result = await openLocalMedia(ids);
    stream = result.stream;
    preview.srcObject = stream;
    meter.attach(stream.getAudioTracks()[0]);
    replace(mediaNote, result.error ? alertBox(result.error, 'warn') : null);
    const { cameras, mics, speakers } = await listDevices();
    const fill = (select, list, track) => {
      const current = track ? track.getSettings().deviceId : '';
      replace(select, list.map((d) => h('option', { value: d.id, selected: d.id === current }, d.label)));
      select.disabled = !list.length;
    };
    fill(cameraSelect, cameras, stream.getVideoTracks()[0]);
    fill(micSelect, mics, stream.getAudioTracks()[0]);
    fill(speakerSelect, speakers, null);
    speakerSelect.closest('label').hidden = !speakers.length || !('setSinkId' in HTMLMediaElement.prototype);
  }
  let mediaReady = Promise.resolve();
  const precall = new PrecallPanel({
    getStream: async () => {
      await mediaReady.catch(() => {});
      return stream;
    },
    scope,
  });
  const reopen = () => {
    precall.cancel(); // its connection sends the tracks being replaced
    mediaReady = open({ cameraId: cameraSelect.value, micId: micSelect.value });
    return mediaReady;
  };
  cameraSelect.addEventListener('change', reopen);
  micSelect.addEventListener('change', reopen);
  scope.listen(document, 'pointerdown', () => meter.context && meter.context.resume().catch(() => {}));

  async function startCall(button) {
    replace(errors);
    precall.cancel();
    button.disabled = true;
    button.classList.add('is-busy');
    button.textContent = t('call.joining');
    await mediaReady.catch(() => {}); // the camera may still be starting
    if (scope.disposed) return;
    meter.detach();
    launch({
      flags: { mic: micOn.checked, camera: cameraOn.checked },
      onJoinFailed: (sentence) => {
        showError(errors, new Error(sentence));
        button.classList.remove('is-busy');
        button.textContent = t('call.join_now');
        button.disabled = false;
        reopen();
      },
    });
  }

  /** A call on `stream` with the person's mic and camera choices; the session owns the tracks. */
  function launch({ flags, carry = [], onJoinFailed }) {
    for (const track of stream.getAudioTracks()) track.enabled = flags.mic;
    for (const track of stream.getVideoTracks()) track.enabled = flags.camera;
    handedOver = true;
    const session = new CallSession({
      chat,
      user,
      media: { stream, mic: flags.mic && stream.getAudioTracks().length > 0, camera: flags.camera && stream.getVideoTracks().length > 0, speakerId: speakerSelect.value },
      root,
      scope,
      home,
      timeZone: event.timezone,
      carry,
      onRejoin: rejoin,
      onJoinFailed: (sentence) => {
        handedOver = false;
        onJoinFailed(sentence);
      },
    });
    session.start();
  }

  /** "Join again" after a call ended while its window is open: same devices, a new ticket, no reload. */
  async function rejoin({ button, note, carry, flags }) {
    button.disabled = true;
    button.classList.add('is-busy');
    button.textContent = t('call.joining');
    const opened = await openLocalMedia({ cameraId: cameraSelect.value, micId: micSelect.value });
    stream = opened.stream;
    if (scope.disposed) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    launch({
      flags,
      carry,
      onJoinFailed: (sentence) => {
        // The join endpoint said no (the chat ended, or was cancelled): its sentence, no button.
        button.remove();
        note.textContent = sentence;
        note.hidden = false;
      },
    });
  }

  const join = joinControl(chat, { scope, timeZone: event.timezone, onJoin: startCall, label: t('call.join_now') });
  const field = (label, input) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input);
  replace(root, h('section', { class: 'precheck' },
    h('div', { class: 'precheck-media card' },
      h('div', { class: 'preview-frame' }, preview),
      h('div', { class: 'mic-meter' }, h('span', { class: 'field-label' }, t('call.mic_level')), h('div', { class: 'meter' }, meterFill)),
      mediaNote,
      precall.root),
    h('div', { class: 'precheck-side card' },
      info,
      answerLine(chat, questions),
      h('div', { class: 'form-grid one' }, field(t('device.camera'), cameraSelect), field(t('device.microphone'), micSelect), field(t('device.speaker'), speakerSelect)),
      h('div', { class: 'row' }, h('label', { class: 'check' }, micOn, t('call.join_mic_on')), h('label', { class: 'check' }, cameraOn, t('call.join_camera_on'))),
      errors,
      join,
      h('a', { class: 'link-button', href: home }, t('call.back')))));
  mediaReady = open({});
  await mediaReady;
}
