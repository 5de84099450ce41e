// Files behind the bearer token (résumés, CSV exports): fetched as a blob, then saved.

import { api } from './api.js';
import { h } from './dom.js';
import { toast } from './ui.js';

export async function downloadFile(url, filename, accept) {
  const blob = await api.blob(url, accept);
  const href = URL.createObjectURL(blob);
  const link = h('a', { href, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/** A link that downloads `url` with the token; `action` names it for tests. */
export function downloadLink(label, url, filename, accept, action) {
  return h('a', {
    class: 'link-button',
    href: url,
    dataset: { action },
    onclick: (event) => {
      event.preventDefault();
      downloadFile(url, filename, accept).catch((err) => toast(err.message, 'error'));
    },
  }, label);
}
