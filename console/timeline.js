// The timeline of a stream's recorded video over a time window: fragment coverage as a bar, key-frame
// thumbnails above it, motion spans and analyzer events on it, the playhead, and a selection.
// Click to play from a moment, drag to select a range; keyboard: ←/→ move the cursor (Shift: faster),
// Home/End, Enter plays from the cursor, [ and ] set the selection, Esc clears it.
//
// Pure view: it is given data (times in epoch ms) and reports intents through callbacks.

import * as fmt from './format.js';
import { h, replace, s } from './ui.js';

const GAP_TOLERANCE_MS = 1500;
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200].map((x) => x * 1000);
const VIEW_W = 1000;
const VIEW_H = 46;

export class Timeline {
  constructor({ onSeek, onSelect, onEvent }) {
    this.onSeek = onSeek;
    this.onSelect = onSelect;
    this.onEvent = onEvent;
    this.start = Date.now() - 600_000;
    this.end = Date.now();
    this.segments = [];
    this.spans = [];
    this.markers = [];
    this.selection = null;
    this.cursor = null;
    this.playhead = null;

    this.svg = s('svg', { viewBox: `0 0 ${VIEW_W} ${VIEW_H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' });
    this.selEl = h('div', { class: 'tl-selection', hidden: true });
    this.playEl = h('div', { class: 'tl-playhead', hidden: true });
    this.cursorEl = h('div', { class: 'tl-cursor', hidden: true });
    this.hoverEl = h('div', { class: 'tl-hover', hidden: true });
    this.tipEl = h('div', { class: 'tl-tip', hidden: true });
    this.emptyEl = h('div', { class: 'tl-empty' }, 'No recorded video in this window');
    this.track = h('div', {
      class: 'tl-track', tabindex: '0', role: 'slider', 'aria-label': 'Timeline: Enter plays from the cursor, [ and ] select a range',
      'aria-valuemin': 0, 'aria-valuemax': 100,
    }, this.svg, this.emptyEl, this.selEl, this.cursorEl, this.hoverEl, this.playEl);
    this.thumbsEl = h('div', { class: 'tl-thumbs' });
    this.markersEl = h('div', { class: 'tl-markers' });
    this.axisEl = h('div', { class: 'tl-axis', 'aria-hidden': 'true' });
    const trackWrap = h('div', { class: 'tl-track-wrap' }, this.track, this.tipEl);
    trackWrap.style.position = 'relative';
    this.el = h('div', { class: 'timeline' }, this.thumbsEl, trackWrap, this.markersEl, this.axisEl);
    this.bindPointer();
    this.bindKeys();
  }

  // ------------------------------------------------------------ data
  setWindow(start, end) {
    this.start = start;
    this.end = Math.max(end, start + 1000);
    this.draw();
  }

  /** Fragments: [{start, end}] in producer time. */
  setFragments(frags) {
    const sorted = [...frags].sort((a, b) => a.start - b.start);
    const segs = [];
    for (const f of sorted) {
      const last = segs[segs.length - 1];
      if (last && f.start - last.end <= GAP_TOLERANCE_MS) last.end = Math.max(last.end, f.end);
      else segs.push({ start: f.start, end: f.end });
    }
    this.segments = segs;
    this.draw();
  }

  /** Motion spans [{start, end}] and markers [{ms, kind, label, event}]. */
  setEvents(spans, markers) {
    this.spans = spans;
    this.markers = markers;
    this.draw();
  }

  /** Thumbnail slots: [{start, end, ms, url|null, state}] (state: loading, ok, empty). */
  setThumbnails(slots) {
    const nodes = slots.map((slot) => {
      const btn = h('button', {
        class: ['tl-thumb', slot.state === 'loading' && 'loading'],
        type: 'button',
        title: slot.ms ? `Key frame at ${fmt.clock(slot.ms)}: play from here` : 'No video',
        'aria-label': slot.ms ? `Key frame at ${fmt.clock(slot.ms)}, play from here` : 'No video here',
        disabled: !slot.ms,
        dataset: { ms: slot.ms || '' },
        onclick: () => slot.ms && this.onSeek(slot.ms),
      },
      slot.url ? h('img', { src: slot.url, alt: '', loading: 'lazy', decoding: 'async' }) : null,
      slot.url ? h('span', { class: 't' }, fmt.clock(slot.ms)) : null);
      // Slots sit on a fixed grid; the ones cut by the window's edges are shown cut.
      const a = Math.max(slot.start, this.start);
      const b = Math.min(slot.end, this.end);
      btn.style.left = `${this.pct(a)}%`;
      btn.style.width = `calc(${this.pct(b) - this.pct(a)}% - 4px)`;
      if (!slot.ms || ((b - a) / (this.end - this.start)) * this.width() < 56) btn.style.visibility = 'hidden';
      return btn;
    });
    replace(this.thumbsEl, nodes);
  }

  setPlayhead(ms) {
    this.playhead = ms;
    this.placeLine(this.playEl, ms);
  }

  setSelection(range) {
    this.selection = range ? { start: Math.min(range.start, range.end), end: Math.max(range.start, range.end) } : null;
    this.drawSelection();
  }

  /** The width available to thumbnails, in CSS pixels. */
  width() {
    return this.track.clientWidth || 1000;
  }

  // ------------------------------------------------------------ geometry
  pct(ms) {
    return ((ms - this.start) / (this.end - this.start)) * 100;
  }

  msAt(clientX) {
    const r = this.track.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return this.start + f * (this.end - this.start);
  }

  placeLine(el, ms) {
    const inside = ms != null && ms >= this.start && ms <= this.end;
    el.hidden = !inside;
    if (inside) el.style.left = `${this.pct(ms)}%`;
  }

  // ------------------------------------------------------------ drawing
  draw() {
    const x = (ms) => ((ms - this.start) / (this.end - this.start)) * VIEW_W;
    const clip = (a, b) => [Math.max(a, this.start), Math.min(b, this.end)];
    const shapes = [];
    for (const sp of this.spans) {
      const [a, b] = clip(sp.start, sp.end);
      if (b <= a) continue;
      shapes.push(s('rect', { class: 'motion', x: x(a), y: 0, width: Math.max(1.5, x(b) - x(a)), height: VIEW_H }));
      shapes.push(s('rect', { class: 'motion-edge', x: x(a), y: 0, width: 1.2, height: VIEW_H }));
    }
    for (const seg of this.segments) {
      const [a, b] = clip(seg.start, seg.end);
      if (b <= a) continue;
      shapes.push(s('rect', { class: 'frag', x: x(a), y: 14, width: Math.max(1, x(b) - x(a)), height: 18, rx: 2 }));
    }
    replace(this.svg, shapes);
    this.emptyEl.hidden = this.segments.some((seg) => seg.end > this.start && seg.start < this.end);

    replace(this.markersEl, this.markers.filter((m) => m.ms >= this.start && m.ms <= this.end).map((m) => {
      const b = h('button', {
        class: ['tl-marker', m.kind === 'error' && 'error'], type: 'button', title: `${m.label} at ${fmt.clock(m.ms)}`,
        'aria-label': `${m.label} at ${fmt.clock(m.ms)}: play from here`, dataset: { kind: m.kind, ms: m.ms },
        onclick: () => this.onEvent(m),
      });
      b.style.left = `${this.pct(m.ms)}%`;
      return b;
    }));

    const span = this.end - this.start;
    const step = TICK_STEPS.find((st) => span / st <= 8) || 86_400_000;
    const ticks = [];
    const tzOffset = new Date(this.start).getTimezoneOffset() * 60_000;
    for (let t = Math.ceil((this.start - tzOffset) / step) * step + tzOffset; t <= this.end; t += step) {
      const p = this.pct(t);
      if (p < 3 || p > 97) continue;
      const label = h('span', null, step >= 60_000 ? fmt.shortClock(t) : fmt.clock(t));
      label.style.left = `${p}%`;
      ticks.push(label);
    }
    replace(this.axisEl, ticks);
    this.track.setAttribute('aria-valuetext', `${fmt.clock(this.start)} to ${fmt.clock(this.end)}`);
    this.placeLine(this.playEl, this.playhead);
    this.placeLine(this.cursorEl, this.cursor);
    this.drawSelection();
  }

  drawSelection() {
    const sel = this.selection;
    if (!sel || sel.end < this.start || sel.start > this.end) {
      this.selEl.hidden = true;
      return;
    }
    const a = Math.max(sel.start, this.start);
    const b = Math.min(sel.end, this.end);
    this.selEl.hidden = false;
    this.selEl.style.left = `${this.pct(a)}%`;
    this.selEl.style.width = `${this.pct(b) - this.pct(a)}%`;
  }

  // ------------------------------------------------------------ input
  bindPointer() {
    let down = null;
    const tip = (ms, clientX) => {
      const r = this.track.getBoundingClientRect();
      this.tipEl.hidden = false;
      this.tipEl.textContent = fmt.clock(ms);
      this.tipEl.style.left = `${Math.min(r.width - 40, Math.max(40, clientX - r.left))}px`;
      this.hoverEl.hidden = false;
      this.hoverEl.style.left = `${this.pct(ms)}%`;
    };
    this.track.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      this.track.setPointerCapture(ev.pointerId);
      down = { x: ev.clientX, ms: this.msAt(ev.clientX), selecting: false };
    });
    this.track.addEventListener('pointermove', (ev) => {
      const ms = this.msAt(ev.clientX);
      tip(ms, ev.clientX);
      if (!down) return;
      if (!down.selecting && Math.abs(ev.clientX - down.x) > 4) down.selecting = true;
      if (down.selecting) this.setSelection({ start: down.ms, end: ms });
    });
    this.track.addEventListener('pointerup', (ev) => {
      if (!down) return;
      const ms = this.msAt(ev.clientX);
      if (down.selecting) this.onSelect(this.selection);
      else this.onSeek(ms);
      down = null;
    });
    this.track.addEventListener('pointercancel', () => (down = null));
    this.track.addEventListener('pointerleave', () => {
      this.tipEl.hidden = true;
      this.hoverEl.hidden = true;
    });
  }

  bindKeys() {
    this.track.addEventListener('focus', () => {
      if (this.cursor == null || this.cursor < this.start || this.cursor > this.end) {
        this.cursor = this.playhead != null && this.playhead >= this.start ? this.playhead : this.end - (this.end - this.start) * 0.1;
      }
      this.placeLine(this.cursorEl, this.cursor);
    });
    this.track.addEventListener('blur', () => (this.cursorEl.hidden = true));
    this.track.addEventListener('keydown', (ev) => {
      const span = this.end - this.start;
      const move = (d) => {
        this.cursor = Math.min(this.end, Math.max(this.start, (this.cursor ?? this.end) + d));
        this.placeLine(this.cursorEl, this.cursor);
        this.track.setAttribute('aria-valuenow', Math.round(this.pct(this.cursor)));
        this.track.setAttribute('aria-valuetext', fmt.clock(this.cursor));
      };
      switch (ev.key) {
        case 'ArrowLeft': move(-(ev.shiftKey ? 0.1 : 0.01) * span); break;
        case 'ArrowRight': move((ev.shiftKey ? 0.1 : 0.01) * span); break;
        case 'Home': move(-span); break;
        case 'End': move(span); break;
        case 'Enter':
        case ' ':
          if (this.cursor != null) this.onSeek(this.cursor);
          break;
        case '[':
          this.setSelection({ start: this.cursor, end: this.selection ? this.selection.end : Math.min(this.end, this.cursor + span * 0.05) });
          this.onSelect(this.selection);
          break;
        case ']':
          this.setSelection({ start: this.selection ? this.selection.start : Math.max(this.start, this.cursor - span * 0.05), end: this.cursor });
          this.onSelect(this.selection);
          break;
        case 'Escape':
          this.setSelection(null);
          this.onSelect(null);
          break;
        default:
          return;
      }
      ev.preventDefault();
    });
  }
}
