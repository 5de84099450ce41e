// The participant's résumé: upload, replace or delete it (profile), and the employee's link.

import { t } from './i18n.js';
import { api } from './api.js';
import { h, replace } from './dom.js';
import { downloadLink } from './downloads.js';
import { busy, showNotice } from './ui.js';

const MAX_MB = 5;

/** On an employee's chat card and pre-join page, when the participant shared a résumé. */
export function resumeLink(chat) {
  if (!chat.resume_url) return null;
  return downloadLink(t('resume.link'), chat.resume_url, `resume-${chat.participant.name}.pdf`, 'application/pdf', 'resume');
}

function sizeText(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** The participant's résumé section: what is shared, and the buttons to change it. */
export async function resumeSection() {
  const messages = h('div', { id: 'resume-messages' });
  const status = h('div', { class: 'resume-status' });
  const input = h('input', { type: 'file', accept: 'application/pdf,.pdf', id: 'resume-file', 'aria-label': t('resume.link') });
  const uploadButton = h('button', { class: 'btn btn-primary btn-small', type: 'submit', dataset: { action: 'upload-resume' } }, t('resume.upload'));
  const section = h('section', { class: 'card resume-card', id: 'resume' },
    h('h2', {}, t('resume.title')),
    h('p', { class: 'muted' }, t('resume.intro', { mb: MAX_MB })),
    status,
    h('form', {
      class: 'inline-form',
      onsubmit: (event) => {
        event.preventDefault();
        busy(uploadButton, messages, async () => {
          const file = input.files[0];
          if (!file) throw new Error(t('resume.choose_first'));
          const stored = await api.upload('/me/resume', file);
          input.value = '';
          show(stored);
          showNotice(messages, t('resume.saved'), 'success');
        });
      },
    }, h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('resume.file')), input), h('div', { class: 'row' }, uploadButton)),
    messages);

  function show(stored) {
    if (!stored) {
      replace(status, h('p', { dataset: { resume: 'none' } }, t('resume.none')));
      return;
    }
    const remove = h('button', { class: 'btn btn-ghost btn-small btn-danger-text', type: 'button', dataset: { action: 'delete-resume' } }, t('resume.delete'));
    remove.addEventListener('click', () => busy(remove, messages, async () => {
      await api.del('/me/resume');
      show(null);
      showNotice(messages, t('resume.deleted'), 'success');
    }));
    replace(status, h('p', { dataset: { resume: stored.filename } },
      h('strong', {}, stored.filename), ` · ${t('resume.pages', { count: stored.pages })} · ${sizeText(stored.size)} `,
      downloadLink(t('resume.open'), stored.url, stored.filename, 'application/pdf', 'my-resume'), ' ', remove));
  }

  try {
    show(await api.get('/me/resume'));
  } catch (err) {
    if (err.status !== 404) throw err;
    show(null);
  }
  return section;
}
