// The participant's résumé: upload, replace or delete it (profile), and the employee's link.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { downloadLink } from './downloads.js';
import { busy, showNotice } from './ui.js';

const MAX_MB = 5;

/** On an employee's chat card and pre-join page, when the participant shared a résumé. */
export function resumeLink(chat) {
  if (!chat.resume_url) return null;
  return downloadLink('Résumé (PDF)', chat.resume_url, `resume-${chat.participant.name}.pdf`, 'application/pdf', 'resume');
}

function sizeText(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** The participant's résumé section: what is shared, and the buttons to change it. */
export async function resumeSection() {
  const messages = h('div', { id: 'resume-messages' });
  const status = h('div', { class: 'resume-status' });
  const input = h('input', { type: 'file', accept: 'application/pdf,.pdf', id: 'resume-file', 'aria-label': 'Résumé (PDF)' });
  const uploadButton = h('button', { class: 'btn btn-primary btn-small', type: 'submit', dataset: { action: 'upload-resume' } }, 'Upload PDF');
  const section = h('section', { class: 'card resume-card', id: 'resume' },
    h('h2', {}, 'Your résumé'),
    h('p', { class: 'muted' }, `One PDF of up to ${MAX_MB} MB. Only the companies you have a chat with can open it, and only for those chats. Replace or delete it whenever you like.`),
    status,
    h('form', {
      class: 'inline-form',
      onsubmit: (event) => {
        event.preventDefault();
        busy(uploadButton, messages, async () => {
          const file = input.files[0];
          if (!file) throw new Error('Choose your résumé (a PDF) first.');
          const stored = await api.upload('/me/resume', file);
          input.value = '';
          show(stored);
          showNotice(messages, 'Résumé saved. Recruiters you talk to can now open it.', 'success');
        });
      },
    }, h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'PDF file'), input), h('div', { class: 'row' }, uploadButton)),
    messages);

  function show(stored) {
    if (!stored) {
      replace(status, h('p', { dataset: { resume: 'none' } }, 'No résumé shared yet.'));
      return;
    }
    const remove = h('button', { class: 'btn btn-ghost btn-small btn-danger-text', type: 'button', dataset: { action: 'delete-resume' } }, 'Delete');
    remove.addEventListener('click', () => busy(remove, messages, async () => {
      await api.del('/me/resume');
      show(null);
      showNotice(messages, 'Résumé deleted. Nobody can open it any more.', 'success');
    }));
    replace(status, h('p', { dataset: { resume: stored.filename } },
      h('strong', {}, stored.filename), ` · ${stored.pages} page${stored.pages === 1 ? '' : 's'} · ${sizeText(stored.size)} `,
      downloadLink('Open', stored.url, stored.filename, 'application/pdf', 'my-resume'), ' ', remove));
  }

  try {
    show(await api.get('/me/resume'));
  } catch (err) {
    if (err.status !== 404) throw err;
    show(null);
  }
  return section;
}
