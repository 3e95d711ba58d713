// DOM helpers of the console: element builders (no innerHTML anywhere), icons, toasts, dialogs.

/** Builds an element: h('button', {class: 'btn', onclick: f, 'aria-label': 'x'}, 'text', child, ...). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Builds an SVG element. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

function applyProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') Object.assign(el.style, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'muted') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces a node's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---------------------------------------------------------------- icons (inline SVG, no font)
const ICONS = {
  plus: 'M12 5v14M5 12h14',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3',
  edit: 'M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4',
  play: 'M7 4.5v15l12-7.5z',
  pause: 'M7 5h3.5v14H7zM13.5 5H17v14h-3.5z',
  download: 'M12 4v11M7 10l5 5 5-5M5 20h14',
  live: 'M12 12m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0M7.8 7.8a6 6 0 0 0 0 8.4M16.2 7.8a6 6 0 0 1 0 8.4M5 5a10 10 0 0 0 0 14M19 5a10 10 0 0 1 0 14',
  refresh: 'M20 11a8 8 0 0 0-14.9-4M4 5v4h4M4 13a8 8 0 0 0 14.9 4M20 19v-4h-4',
  copy: 'M9 9h10v11H9zM5 15V4h10',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  volume: 'M4 9v6h4l5 4V5L8 9zM16.5 8.5a5 5 0 0 1 0 7',
  mute: 'M4 9v6h4l5 4V5L8 9zM16 9l5 6M21 9l-5 6',
  expand: 'M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5',
  x: 'M6 6l12 12M18 6L6 18',
  sun: 'M12 12m-4 0a4 4 0 1 0 8 0a4 4 0 1 0-8 0M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4',
  moon: 'M20 14.5A8 8 0 0 1 9.5 4a8 8 0 1 0 10.5 10.5z',
  auto: 'M12 3a9 9 0 1 0 0 18zM12 3a9 9 0 0 1 0 18',
  pauseCircle: 'M12 12m-9 0a9 9 0 1 0 18 0a9 9 0 1 0-18 0M10 9v6M14 9v6',
  playCircle: 'M12 12m-9 0a9 9 0 1 0 18 0a9 9 0 1 0-18 0M10 8.5v7l6-3.5z',
  clip: 'M4 6h16v12H4zM8 6v12M16 6v12',
};

/** An inline icon. */
export function icon(name, label) {
  const svgEl = s(
    'svg',
    { viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': label ? null : 'true', role: label ? 'img' : null },
    label ? s('title', null, label) : null,
    s('path', { d: ICONS[name] || ICONS.x }),
  );
  if (name === 'play' || name === 'pause') svgEl.setAttribute('fill', 'currentColor');
  return svgEl;
}

/** A spinner. */
export const spinner = () => h('span', { class: 'spin', 'aria-hidden': 'true' });

// ---------------------------------------------------------------- toasts
/** Shows a transient message (no alert boxes): kind `info`, `ok` or `error`. */
export function toast(title, detail, kind = 'info', timeoutMs = kind === 'error' ? 9000 : 4500) {
  const host = document.getElementById('toasts');
  const close = h('button', { class: 'btn ghost small icon', 'aria-label': 'Dismiss', onclick: () => el.remove() }, icon('x'));
  const el = h('div', { class: ['toast', kind], role: kind === 'error' ? 'alert' : null },
    h('div', { class: 'msg' }, h('strong', null, title), detail ? h('span', null, detail) : null), close);
  host.append(el);
  while (host.children.length > 4) host.firstElementChild.remove();
  if (timeoutMs) setTimeout(() => el.remove(), timeoutMs);
  return el;
}

/** Shows an API error as a toast. */
export function toastError(what, err) {
  if (err && err.name === 'AbortError') return;
  const detail = err && err.type ? `${err.message} (${err.type})` : String((err && err.message) || err);
  toast(what, detail, 'error');
}

// ---------------------------------------------------------------- dialogs
/**
 * A modal dialog (native <dialog>: focus trap, Esc closes). `body` is a node or list of nodes;
 * `submit(form)` runs on the primary action and may throw to keep the dialog open (its message is
 * shown in the dialog). Resolves to the submit result, or null when cancelled.
 */
export function dialog({ title, description, body, submitLabel = 'Save', danger = false, submit, initialFocus }) {
  return new Promise((resolve) => {
    const error = h('div', { class: 'alert', role: 'alert', hidden: true });
    const submitBtn = h('button', { class: ['btn', danger ? 'danger solid' : 'primary'], type: 'submit' }, submitLabel);
    const cancelBtn = h('button', { class: 'btn', type: 'button', onclick: () => dlg.close('cancel') }, 'Cancel');
    const form = h('form', { method: 'dialog', novalidate: true },
      h('header', null, h('h2', null, title), description ? h('p', null, description) : null),
      h('div', { class: 'dialog-body' }, body, error),
      h('footer', null, cancelBtn, submitBtn));
    const dlg = h('dialog', { 'aria-label': title }, form);
    let result = null;
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      submitBtn.disabled = true;
      const label = submitBtn.textContent;
      replace(submitBtn, spinner(), label);
      try {
        result = submit ? await submit(form) : true;
        dlg.close('ok');
      } catch (e) {
        replace(error, e.message || String(e));
        error.hidden = false;
      } finally {
        submitBtn.disabled = false;
        replace(submitBtn, label);
      }
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(dlg.returnValue === 'ok' ? result : null);
    });
    document.body.append(dlg);
    dlg.showModal();
    const focus = initialFocus ? form.querySelector(initialFocus) : form.querySelector('input, select');
    if (focus) focus.focus();
  });
}

/** A labelled form field. */
export function field(label, input, hint) {
  return h('label', { class: 'field' }, label, input, hint ? h('span', { class: 'hint' }, hint) : null);
}

/** A status pill for a stream status. */
/**
 * Paints a stat card value: a leading number large, its unit (and the rest) smaller, e.g.
 * "1.05 Mbit/s", "454 ms ago". The value wraps between the two rather than being cut off.
 */
export function statValue(el, text) {
  const m = /^([<>]?\s?[\d.,]+)(\s.*)$/.exec(text);
  if (m) replace(el, m[1], h('small', null, m[2]));
  else replace(el, text);
  el.title = text;
  return el;
}

export function statusPill(status) {
  const kind = {
    ACTIVE: 'ok', CREATING: 'warn', UPDATING: 'warn', DELETING: 'danger',
    IN_SYNC: 'ok', SUCCESS: 'ok', SYNCING: 'warn', ACKNOWLEDGED: 'warn', DELETING_ACKNOWLEDGED: 'danger',
    SYNC_FAILED: 'danger', DELETE_FAILED: 'danger', USER_ERROR: 'danger', SYSTEM_ERROR: 'danger',
  }[status] || '';
  return h('span', { class: ['pill', kind] }, status || 'UNKNOWN');
}

/** A copy-to-clipboard button. */
export function copyButton(text, label = 'Copy') {
  return h('button', {
    class: 'btn ghost small icon', type: 'button', title: label, 'aria-label': label,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast('Copied', text, 'ok', 2000);
      } catch {
        toast('Copy failed', 'The browser refused clipboard access.', 'error');
      }
    },
  }, icon('copy'));
}

/** Runs `fn` now and every `ms` while the page is visible; returns a stop function. */
export function every(ms, fn) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await fn();
      } catch {
        /* each view reports its own errors */
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Runs async tasks with at most `n` at once. */
export async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        results[i] = e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}
