/** Medians, ranges and plain-text tables. */

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** `{ median, min, max, n }` of finite values. */
export function summary(values) {
  const v = values.filter((x) => Number.isFinite(x));
  return { median: median(v), min: v.length ? Math.min(...v) : Number.NaN, max: v.length ? Math.max(...v) : Number.NaN, n: v.length };
}

/** 1234567 → "1.23M", 12345 → "12.3k", 123 → "123". */
function si(x) {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(a >= 1e4 ? 1 : 2)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A number with 3 significant digits (µs, ms, MB). */
export function sig(x) {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** "median (min–max)" with a formatter. */
export function range(s, f = si) {
  if (!s || !Number.isFinite(s.median)) return '—';
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

export function ratio(s) {
  if (!s || !Number.isFinite(s.median)) return '—';
  const f = (x) => `${x.toFixed(2)}`;
  return `${f(s.median)}× (${f(s.min)}–${f(s.max)})`;
}

/** A Markdown table (also readable as plain text). */
export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c ?? '').padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
