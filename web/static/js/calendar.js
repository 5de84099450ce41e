// "Add to calendar": the .ics needs the bearer token, so fetch it and save it as a blob.

import { api } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { toast } from './ui.js';

export async function downloadCalendarFile(chat) {
  const blob = await api.blob(chat.ics_url, 'text/calendar');
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: `duet-chat-${chat.id}.ics`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function calendarLink(chat) {
  return h(
    'a',
    {
      class: 'link-button',
      href: chat.ics_url,
      dataset: { action: 'ics' },
      onclick: (event) => {
        event.preventDefault();
        downloadCalendarFile(chat).catch((err) => toast(err.message, 'error'));
      },
    },
    t('calendar.add'),
  );
}
