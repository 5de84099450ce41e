// The REST client: bearer token, JSON in and out, and problem+json turned into a sentence.

import { session } from './session.js';
import { newId } from './ids.js';
import { syncServerClock } from './server_clock.js';

export class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `The server answered ${status}.`);
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
  return { detail: `The server answered ${resp.status} ${resp.statusText}. Please try again.` };
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
      { detail: 'The Duet server cannot be reached. Check your connection and try again.', code: 'network' },
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
  // Every answer that carries the server's clock keeps our countdowns honest.
  // One chat carries it in its join window: the call page may be the first page loaded.
  const now = data && (typeof data.now === 'string' ? data.now : data.join && data.join.now);
  if (typeof now === 'string') syncServerClock(now);
  return data;
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body = {}) => request('POST', path, body),
  put: (path, body = {}) => request('PUT', path, body),
  blob: (path, accept) => request('GET', path, undefined, { accept }),
};
