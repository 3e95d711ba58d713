// The openkvs console: the shell (top bar, navigation, theme), the hash router and the session
// life cycle. Views live in views/*.js; each exports `render(main, params)` returning a cleanup.

import { session } from './api.js';
import { h, icon, replace, toastError } from './ui.js';
import { renderSignIn } from './views/sign_in.js';
import { renderStreams } from './views/streams.js';
import { renderStream } from './views/stream.js';
import { renderWorkers } from './views/workers.js';

const app = document.getElementById('app');
let cleanup = null;

// ---------------------------------------------------------------- theme (auto / light / dark)
const THEMES = ['auto', 'light', 'dark'];
function applyTheme(theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}
function currentTheme() {
  try {
    return localStorage.getItem('openkvs.theme') || 'auto';
  } catch {
    return 'auto';
  }
}
applyTheme(currentTheme());

function themeButton() {
  const btn = h('button', { class: 'btn ghost icon', type: 'button' });
  const paint = () => {
    const t = currentTheme();
    btn.setAttribute('aria-label', `Theme: ${t} (change)`);
    btn.title = `Theme: ${t}`;
    replace(btn, icon(t === 'dark' ? 'moon' : t === 'light' ? 'sun' : 'auto'));
  };
  btn.addEventListener('click', () => {
    const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
    try {
      localStorage.setItem('openkvs.theme', next);
    } catch {
      /* private mode */
    }
    applyTheme(next);
    paint();
  });
  paint();
  return btn;
}

// ---------------------------------------------------------------- routes
const ROUTES = [
  { re: /^#\/streams\/([^/]+)$/, view: renderStream, nav: 'streams' },
  { re: /^#\/workers$/, view: renderWorkers, nav: 'workers' },
  { re: /^#\/streams$/, view: renderStreams, nav: 'streams' },
];

function route() {
  const hash = location.hash || '#/streams';
  for (const r of ROUTES) {
    const m = hash.match(r.re);
    if (m) return { ...r, params: m.slice(1).map(decodeURIComponent) };
  }
  return { ...ROUTES[2], params: [] };
}

function shell(nav) {
  const s = session.current;
  const link = (href, label, key) =>
    h('a', { href, 'aria-current': nav === key ? 'page' : null }, label);
  const signOut = h('button', {
    class: 'btn ghost small', type: 'button', 'aria-label': 'Sign out', title: 'Sign out',
    onclick: async () => {
      try {
        await session.signOut();
      } catch (e) {
        toastError('Sign-out failed', e);
      }
      showSignIn();
    },
  }, icon('logout'), h('span', { class: 'label' }, 'Sign out'));
  const main = h('main', { id: 'main', tabindex: '-1' });
  const bar = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#/streams' }, h('img', { src: '/console/favicon.svg', alt: '' }), 'openkvs', h('small', null, 'console')),
    h('nav', { class: 'nav', 'aria-label': 'Main' }, link('#/streams', 'Streams', 'streams'), link('#/workers', 'Workers', 'workers')),
    h('div', { class: 'spacer' }),
    h('div', { class: 'who' },
      s.AuthMode === 'open' ? h('span', { class: 'pill warn plain', title: 'auth.mode = "open": any key is accepted' }, 'Open auth') : null,
      h('span', { class: 'chip', title: 'Region' }, s.Region),
      h('span', { class: 'chip', title: 'Signed in with this access key' }, 'Key ', h('strong', null, s.AccessKeyId)),
      themeButton(),
      signOut));
  replace(app, bar, main);
  return main;
}

async function render() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a view's cleanup must not stop navigation */
    }
    cleanup = null;
  }
  if (!session.current || !session.current.SignedIn) {
    showSignIn();
    return;
  }
  const r = route();
  const main = shell(r.nav);
  cleanup = r.view(main, ...r.params) || null;
}

function showSignIn(message) {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* ignore */
    }
    cleanup = null;
  }
  session.forget();
  renderSignIn(app, {
    message,
    onSignedIn: () => render(),
  });
}

window.addEventListener('hashchange', () => render());
let endedShown = false;
window.addEventListener('openkvs:session-ended', () => {
  if (endedShown || !session.current) return;
  endedShown = true;
  showSignIn('Your session has ended. Sign in again to continue.');
  setTimeout(() => (endedShown = false), 1000);
});

async function boot() {
  try {
    await session.load();
  } catch (e) {
    replace(app, h('div', { class: 'signin-wrap' }, h('div', { class: 'card signin' },
      h('h1', null, 'openkvs console'),
      h('div', { class: 'alert', role: 'alert' }, `The server cannot be reached: ${e.message}`),
      h('button', { class: 'btn primary', onclick: () => boot() }, 'Retry'))));
    return;
  }
  render();
}

boot();
