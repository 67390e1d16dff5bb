'use strict';

// LineChart draws a few series of rates over the last samples on a canvas,
// with a legend of text nodes beside it. Series names come from the server
// but are only ever drawn as canvas text or set as textContent.
class LineChart {
  constructor(canvas, legend, options) {
    this.canvas = canvas;
    this.legend = legend;
    this.capacity = (options && options.capacity) || 120;
    this.unit = (options && options.unit) || '/s';
    this.samples = []; // {time: Date, values: {name: number}}
    this.colors = new Map();
    this.palette = ['#2457c5', '#c2410c', '#15803d', '#7c3aed', '#b91c1c', '#0e7490',
      '#a16207', '#be185d', '#4d7c0f', '#475569'];
  }

  push(time, values) {
    this.samples.push({ time, values });
    if (this.samples.length > this.capacity) this.samples.shift();
    this.draw();
  }

  colorOf(name) {
    if (!this.colors.has(name)) {
      this.colors.set(name, this.palette[this.colors.size % this.palette.length]);
    }
    return this.colors.get(name);
  }

  // series returns the names with a value above zero in the window, sorted.
  series() {
    const names = new Set();
    for (const s of this.samples) {
      for (const [name, v] of Object.entries(s.values)) if (v > 0) names.add(name);
    }
    return [...names].sort();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const names = this.series();
    let top = 0;
    for (const s of this.samples) for (const name of names) top = Math.max(top, s.values[name] || 0);
    top = niceCeiling(Math.max(top, 1));

    const left = 44, right = 8, upper = 8, lower = 20;
    const plotW = width - left - right, plotH = height - upper - lower;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#6b6b66';
    ctx.strokeStyle = '#e4e4de';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = upper + plotH - (plotH * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + plotW, y + 0.5); ctx.stroke();
      ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
      ctx.fillText(formatNumber((top * i) / 4), left - 6, y);
    }
    ctx.textAlign = 'left'; ctx.textBaseline = 'top';
    ctx.fillText(`${Math.round((this.capacity * 1) / 60) || 1} min ago`, left, upper + plotH + 5);
    ctx.textAlign = 'right';
    ctx.fillText('now', left + plotW, upper + plotH + 5);

    const step = plotW / Math.max(this.capacity - 1, 1);
    const offset = this.capacity - this.samples.length;
    ctx.lineWidth = 1.75;
    for (const name of names) {
      ctx.strokeStyle = this.colorOf(name);
      ctx.beginPath();
      this.samples.forEach((s, i) => {
        const x = left + (offset + i) * step;
        const y = upper + plotH - (plotH * (s.values[name] || 0)) / top;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
    this.drawLegend(names);
  }

  drawLegend(names) {
    const legend = this.legend;
    legend.replaceChildren();
    const last = this.samples.length ? this.samples[this.samples.length - 1].values : {};
    if (names.length === 0) {
      const quiet = document.createElement('span');
      quiet.className = 'muted';
      quiet.textContent = this.samples.length ? 'none in the last minutes' : 'waiting for data…';
      legend.append(quiet);
      return;
    }
    for (const name of names) {
      const item = document.createElement('span');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = this.colorOf(name);
      item.append(swatch, document.createTextNode(`${name} ${formatNumber(last[name] || 0)}${this.unit}`));
      legend.append(item);
    }
  }
}

// niceCeiling rounds v up to 1, 2 or 5 times a power of ten.
function niceCeiling(v) {
  const power = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * power) return m * power;
  return 10 * power;
}

function formatNumber(v) {
  if (v === 0) return '0';
  if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (v >= 1e4) return (v / 1e3).toFixed(0) + 'k';
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2).replace(/\.?0+$/, '') || '0';
}
