// Number, size, time and duration formatting shared by the console's views.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const shortTimeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

/** HH:MM:SS (local time) of epoch ms. */
export const clock = (ms) => (ms == null ? '—' : timeFmt.format(new Date(ms)));
/** HH:MM (local time) of epoch ms. */
export const shortClock = (ms) => shortTimeFmt.format(new Date(ms));
/** Date and time of epoch ms. */
export const dateTime = (ms) => (ms == null ? '—' : dateTimeFmt.format(new Date(ms)));

/** "1.52 Mbit/s" */
export function bitrate(bitsPerSecond) {
  if (bitsPerSecond == null) return '—';
  if (bitsPerSecond < 1) return '0 bit/s';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bitsPerSecond;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/** "3.4 MB" */
export function bytes(n) {
  if (n == null) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** A duration in ms as "850 ms", "4.2 s", "3 min 05 s", "2 h 10 min", "3 d 4 h". */
export function duration(ms) {
  if (ms == null || !isFinite(ms)) return '—';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 10_000) return `${(a / 1000).toFixed(1)} s`;
  if (a < 60_000) return `${Math.round(a / 1000)} s`;
  if (a < 3_600_000) {
    const m = Math.floor(a / 60_000);
    const s = Math.round((a % 60_000) / 1000);
    return s ? `${m} min ${String(s).padStart(2, '0')} s` : `${m} min`;
  }
  if (a < 86_400_000) {
    const h = Math.floor(a / 3_600_000);
    const m = Math.round((a % 3_600_000) / 60_000);
    return m ? `${h} h ${String(m).padStart(2, '0')} min` : `${h} h`;
  }
  const d = Math.floor(a / 86_400_000);
  const h = Math.round((a % 86_400_000) / 3_600_000);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** "4.2 s ago" */
export const ago = (ms) => `${duration(ms)} ago`;

/** Retention hours as "None", "24 h", "7 d". */
export function retention(hours) {
  if (!hours) return 'None (live only)';
  if (hours % 24 === 0) return `${hours / 24} d`;
  return `${hours} h`;
}

/** Epoch seconds (AWS wire timestamps) to epoch ms. */
export const fromWire = (secs) => (secs == null ? null : Math.round(Number(secs) * 1000));
