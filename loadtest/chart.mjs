// The PNG chart of a load-test run: one panel per scenario, p50/p95/p99 latency per time bucket
// (log scale) with the spec's targets as dashed lines. Drawn as SVG, rasterised by resvg (an npm
// package with its prebuilt binary, so nothing else needs installing).

import fs from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { quantile } from './report.mjs';

const W = 1100;
const PANEL_H = 230;
const M = { left: 70, right: 150, top: 34, bottom: 36 };
const COLORS = { p50: '#2b8a3e', p95: '#e67700', p99: '#c92a2a' };
const TARGET_LINES = [50, 200, 500];

/** Per-bucket percentiles of samples: [{t (s since start), p50, p95, p99, n}]. */
export function buckets(samples, bucketS) {
  if (samples.length === 0) return [];
  const t0 = samples.reduce((lo, s) => Math.min(lo, s.t), Infinity);
  const groups = new Map();
  for (const s of samples) {
    const k = Math.floor((s.t - t0) / 1000 / bucketS);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(s.ms);
  }
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([k, values]) => {
      values.sort((a, b) => a - b);
      return { t: (k + 0.5) * bucketS, n: values.length, p50: quantile(values, 0.5), p95: quantile(values, 0.95), p99: quantile(values, 0.99) };
    });
}

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

function panel(y0, title, series, durationS) {
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const values = series.flatMap((b) => [b.p50, b.p95, b.p99]).filter((v) => v > 0);
  const hi = values.reduce((m, v) => Math.max(m, v), 1000);
  const lo = values.reduce((m, v) => Math.min(m, v), 1);
  const logLo = Math.log10(lo);
  const logHi = Math.log10(hi) + 0.1;
  const xEnd = series.reduce((m, b) => Math.max(m, b.t), Math.max(durationS, 1));
  const x = (t) => M.left + (t / xEnd) * plotW;
  const y = (v) => y0 + M.top + plotH - ((Math.log10(Math.max(v, lo)) - logLo) / (logHi - logLo)) * plotH;
  const out = [
    `<text x="${M.left}" y="${y0 + 22}" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${M.left}" y="${y0 + M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#868e96"/>`,
  ];
  for (let d = Math.ceil(logLo); d <= Math.floor(logHi); d++) {
    const v = 10 ** d;
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e9ecef"/>`);
    out.push(`<text x="${M.left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`);
  }
  for (const v of TARGET_LINES) {
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#adb5bd" stroke-dasharray="5,4"/>`);
    out.push(`<text x="${M.left + plotW + 4}" y="${y(v) + 4}" font-size="10" fill="#868e96">target ${v} ms</text>`);
  }
  const step = Math.max(1, Math.ceil(xEnd / 10));
  for (let t = 0; t <= xEnd; t += step) {
    out.push(`<text x="${x(t)}" y="${y0 + M.top + plotH + 16}" font-size="11" text-anchor="middle">${t} s</text>`);
  }
  if (series.length === 0) {
    out.push(`<text x="${M.left + plotW / 2}" y="${y0 + M.top + plotH / 2}" font-size="14" text-anchor="middle">no samples</text>`);
  }
  ['p50', 'p95', 'p99'].forEach((q, i) => {
    const pts = series.map((b) => `${x(b.t).toFixed(1)},${y(b[q]).toFixed(1)}`).join(' ');
    if (series.length > 1) out.push(`<polyline points="${pts}" fill="none" stroke="${COLORS[q]}" stroke-width="2"/>`);
    for (const b of series.length === 1 ? series : []) out.push(`<circle cx="${x(b.t)}" cy="${y(b[q])}" r="4" fill="${COLORS[q]}"/>`);
    out.push(`<rect x="${M.left + plotW + 80}" y="${y0 + M.top + 8 + i * 18}" width="14" height="4" fill="${COLORS[q]}"/>`);
    out.push(`<text x="${M.left + plotW + 98}" y="${y0 + M.top + 14 + i * 18}" font-size="12">${q}</text>`);
  });
  return out.join('\n');
}

/** Write the chart of `panels` ([{title, samples}]) to `file` (PNG); returns its byte size. */
export function writeChart(file, panels, durationS) {
  const bucketS = Math.max(1, Math.round(durationS / 60));
  const height = panels.length * PANEL_H + 30;
  const body = panels.map((p, i) => panel(30 + i * PANEL_H, p.title, buckets(p.samples, bucketS), durationS)).join('\n');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="DejaVu Sans, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="22" font-size="17" text-anchor="middle" font-weight="bold">perfpulse load test: latency over time (per ${bucketS} s; log scale)</text>
${body}
</svg>`;
  fs.writeFileSync(file.replace(/\.png$/, '.svg'), svg);
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  fs.writeFileSync(file, png);
  return png.length;
}
