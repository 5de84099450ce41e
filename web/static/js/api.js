// The REST client: bearer token, JSON in and out, and problem+json turned into a sentence.

import { session } from './session.js';
import { newId } from './ids.js';
import { syncServerClock } from './server_clock.js';
import { serverSentence, t } from './i18n.js';

// Problem codes whose sentence never carries details, said in the reader's language; any
// other problem keeps the server's English detail (docs/architecture.md, "The client's words").
const PROBLEM_KEYS = {
  token_expired: 'problem.token_expired',
  bad_token: 'problem.bad_token',
  sign_in_needed: 'problem.sign_in_needed',
  slot_taken: 'problem.slot_taken',
  database_unavailable: 'problem.database_unavailable',
};

export class ApiError extends Error {
  constructor(problem, status) {
    super(serverSentence(PROBLEM_KEYS[problem.code], problem.detail || problem.title) || t('error.server_status', { status: String(status) }));
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || '';
    this.problem = problem;
  }
}

const listeners = { unauthorized: null };

export function onUnauthorized(callback) {
  listeners.unauthorized = callback;
}

async function readProblem(resp) {
  try {
    const body = await resp.json();
    if (body && typeof body.detail === 'string') return body;
  } catch {
    // fall through to a generic sentence
  }
  return { detail: t('error.server_status', { status: `${resp.status} ${resp.statusText}`.trim() }) };
}

/** fetch with the bearer token; resolves to JSON (or a Blob), rejects with ApiError. */
export async function request(method, path, body, { accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['Idempotency-Key'] = newId();
  const url = path.startsWith('/') && !path.startsWith('/api/') ? `/api/v1${path}` : path;
  let resp;
  try {
    resp = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(
      { detail: t('error.unreachable'), code: 'network' },
      0,
    );
  }
  if (!resp.ok) {
    const err = new ApiError(await readProblem(resp), resp.status);
    if (resp.status === 401 && listeners.unauthorized) listeners.unauthorized(err);
    throw err;
  }
  const type = resp.headers.get('Content-Type') || '';
  if (!type.includes('json')) return resp.blob();
  const data = await resp.json();
  // Every answer that carries the server's clock keeps our countdowns honest: a list's or
  // /me's `now`, or a single chat's join window's (the pre-join page may fetch nothing else
  // before its Join button counts, when the person came straight from a link).
  const now = data && (typeof data.now === 'string' ? data.now : data.join && data.join.now);
  if (typeof now === 'string') syncServerClock(now);
  return data;
}

/** PUT a file's bytes as the body (the server judges them by content, not by name). */
export async function upload(path, file) {
  const headers = { Accept: 'application/json', 'Content-Type': file.type || 'application/octet-stream' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const url = `/api/v1${path}${path.includes('?') ? '&' : '?'}filename=${encodeURIComponent(file.name || '')}`;
  let resp;
  try {
    resp = await fetch(url, { method: 'PUT', headers, body: file, cache: 'no-store' });
  } catch {
    throw new ApiError({ detail: t('error.unreachable'), code: 'network' }, 0);
  }
  if (!resp.ok) throw new ApiError(await readProblem(resp), resp.status);
  return resp.json();
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body = {}) => request('POST', path, body),
  put: (path, body = {}) => request('PUT', path, body),
  del: (path) => request('DELETE', path),
  blob: (path, accept) => request('GET', path, undefined, { accept }),
  upload,
};
