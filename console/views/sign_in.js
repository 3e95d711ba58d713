// The sign-in screen: access key id + secret (+ region), checked by the server, which then keeps
// a session and sets an HttpOnly cookie. The secret never leaves this form otherwise.

import { session } from '../api.js';
import { field, h, replace, spinner } from '../ui.js';

export function renderSignIn(root, { message, onSignedIn }) {
  const key = h('input', { type: 'text', name: 'key', autocomplete: 'username', required: true, spellcheck: 'false', autocapitalize: 'off', placeholder: 'e.g. openkvs' });
  const secret = h('input', { type: 'password', name: 'secret', autocomplete: 'current-password', required: true });
  const region = h('input', { type: 'text', name: 'region', value: 'us-east-1', spellcheck: 'false', autocapitalize: 'off' });
  const error = h('div', { class: 'alert', role: 'alert', hidden: true });
  const info = message ? h('div', { class: 'alert info', role: 'status' }, message) : null;
  const submit = h('button', { class: 'btn primary', type: 'submit' }, 'Sign in');

  const form = h('form', { class: 'card signin', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('div', { class: 'brand' }, h('img', { src: '/console/favicon.svg', alt: '' }), h('span', { id: 'signin-title' }, 'openkvs console')),
    h('p', { class: 'lead' }, 'Sign in with an access key configured on this server.'),
    info,
    error,
    field('Access key ID', key),
    field('Secret access key', secret),
    h('details', null, h('summary', null, 'Region'),
      field('Region', region, 'Streams live per region, as in AWS. Most setups use us-east-1.')),
    submit,
    h('div', { class: 'foot' }, 'Your session ends after an hour without activity.'));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    key.removeAttribute('aria-invalid');
    secret.removeAttribute('aria-invalid');
    if (!key.value.trim() || !secret.value) {
      replace(error, 'Enter both the access key ID and the secret access key.');
      error.hidden = false;
      (key.value.trim() ? secret : key).focus();
      return;
    }
    submit.disabled = true;
    replace(submit, spinner(), 'Signing in…');
    try {
      await session.signIn(key.value.trim(), secret.value, region.value.trim());
      onSignedIn();
    } catch (e) {
      replace(error, e.type === 'NotAuthorizedException' ? 'The access key ID or secret access key is not valid.' : e.message);
      error.hidden = false;
      secret.setAttribute('aria-invalid', 'true');
      secret.select();
      secret.focus();
    } finally {
      submit.disabled = false;
      replace(submit, 'Sign in');
    }
  });

  replace(root, h('div', { class: 'signin-wrap' }, form));
  key.focus();
}
