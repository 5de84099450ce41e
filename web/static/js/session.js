// The signed-in person, kept per tab (sessionStorage) so two windows can be two people.

const TOKEN_KEY = 'duet.token';
const USER_KEY = 'duet.user';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get user() {
    try {
      return JSON.parse(sessionStorage.getItem(USER_KEY) || 'null');
    } catch {
      return null;
    }
  },
  signIn(token, user = null) {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (user) sessionStorage.setItem(USER_KEY, JSON.stringify(user));
    else sessionStorage.removeItem(USER_KEY);
  },
  rememberUser(user) {
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  signOut() {
    for (const key of Object.keys(sessionStorage)) {
      if (key.startsWith('duet.')) sessionStorage.removeItem(key);
    }
  },
};

/** A host platform hands over its token in the fragment: https://duet.example/#token=eyJ... */
export function takeTokenFromFragment() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return false;
  session.signIn(decodeURIComponent(match[1]));
  // Never leave the token in the address bar or history.
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
  return true;
}
