// jdiffusion web page: plain JavaScript over the server's A1111 API (no build step, no external files).
'use strict';
const $ = id => document.getElementById(id);
let running = null;      // AbortController of the generation in flight
let pollTimer = null;
let made = 0;

async function api(path, options = {}, retried = false) {
  const headers = Object.assign({}, options.headers || {});
  const key = localStorage.getItem('jdiffusion-key');
  if (key) headers['Authorization'] = 'Bearer ' + key;
  if (options.body) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401 && !retried) {
    const k = prompt('This server needs an API key:');
    if (k) { localStorage.setItem('jdiffusion-key', k); return api(path, options, true); }
  }
  const text = await res.text();
  let body = null;
  try { body = text.trim() ? JSON.parse(text) : null; } catch (e) { body = { error: 'BadResponse', detail: text.slice(0, 200) }; }
  if (!res.ok || (body && body.error)) throw new Error((body && body.detail) || ('HTTP ' + res.status));
  return body;
}

function option(select, value, label) {
  const o = document.createElement('option');
  o.value = value; o.textContent = label;
  select.appendChild(o);
  return o;
}

async function loadLists() {
  try {
    const [models, samplers, loras, opts] = await Promise.all([
      api('/sdapi/v1/sd-models'), api('/sdapi/v1/samplers'), api('/sdapi/v1/loras'), api('/sdapi/v1/options')]);
    $('model').textContent = '';
    for (const m of models) option($('model'), m.title, m.model_name).selected = m.title === opts.sd_model_checkpoint;
    for (const s of samplers) option($('sampler'), s.name, s.name);
    for (const l of loras) option($('lora'), l.name, l.name);
  } catch (e) { showError(e.message); }
}

async function health() {
  try {
    const res = await fetch('/health');
    const h = await res.json();
    $('status').textContent = h.status === 'ready' ? 'ready · queue ' + h.queue_length : h.status;
  } catch (e) { $('status').textContent = 'server unreachable'; }
}

function showError(msg) { $('error').textContent = msg; $('error').hidden = !msg; }

function number(id) { const v = $(id).value.trim(); return v === '' ? undefined : Number(v); }

function payload() {
  const p = { prompt: $('prompt').value, negative_prompt: $('negative').value, seed: number('seed') ?? -1, batch_size: number('batch') ?? 1 };
  for (const [id, field] of [['width', 'width'], ['height', 'height'], ['steps', 'steps'], ['cfg', 'cfg_scale']]) {
    const v = number(id);
    if (v !== undefined) p[field] = v;
  }
  if ($('sampler').value) p.sampler_name = $('sampler').value;
  return p;
}

async function poll() {
  try {
    const p = await api('/sdapi/v1/progress');
    $('bar').style.width = Math.round(p.progress * 100) + '%';
    $('progress-text').textContent = p.state.job ? (p.textinfo || '') + (p.eta_relative > 0 ? ' · ' + p.eta_relative.toFixed(1) + ' s left' : '')
      : (p.state.queue_length > 0 ? 'waiting in the queue…' : 'starting…');
    if (p.current_image) $('preview').src = 'data:image/png;base64,' + p.current_image;
  } catch (e) { /* the next poll will tell */ }
}

function setRunning(on) {
  const b = $('generate');
  b.textContent = on ? 'Cancel' : 'Generate';
  b.classList.toggle('cancel', on);
  $('live').hidden = !on;
  if (on) { $('bar').style.width = '0'; $('preview').removeAttribute('src'); $('progress-text').textContent = 'queued…'; pollTimer = setInterval(poll, 400); }
  else { clearInterval(pollTimer); pollTimer = null; }
}

function addToGallery(src, seed, params) {
  made++;
  $('gallery-empty').hidden = true;
  const fig = document.createElement('figure');
  const img = document.createElement('img');
  img.src = src; img.alt = 'seed ' + seed; img.title = params;
  const a = document.createElement('a');
  a.href = src; a.download = 'jdiffusion-' + seed + '-' + made + '.png'; a.textContent = 'download · seed ' + seed;
  fig.append(img, a);
  $('gallery').prepend(fig);
}

async function generate() {
  showError('');
  const ctl = new AbortController();
  running = ctl;
  setRunning(true);
  try {
    const r = await api('/sdapi/v1/txt2img', { method: 'POST', body: JSON.stringify(payload()), signal: ctl.signal });
    const info = JSON.parse(r.info);
    $('results').textContent = '';
    r.images.forEach((b64, i) => {
      const src = 'data:image/png;base64,' + b64;
      const img = document.createElement('img');
      img.src = src; img.alt = 'result ' + (i + 1);
      $('results').appendChild(img);
      addToGallery(src, info.all_seeds[i], info.infotexts[i]);
    });
    $('params').textContent = info.infotexts.join('\n\n') + (info.warnings.length ? '\n\nwarnings: ' + info.warnings.join('; ') : '')
      + (info.interrupted ? '\n\n(interrupted)' : '');
  } catch (e) {
    showError(e.name === 'AbortError' ? 'cancelled' : e.message);
  } finally {
    running = null;
    setRunning(false);
    health();
  }
}

$('form').addEventListener('submit', ev => {
  ev.preventDefault();
  if (running) running.abort(); // closing the request cancels the job on the server
  else generate();
});
$('dice').addEventListener('click', () => { $('seed').value = Math.floor(Math.random() * 4294967296); });
$('lora').addEventListener('change', () => {
  const n = $('lora').value;
  if (n) $('prompt').value = ($('prompt').value.trim() + ' <lora:' + n + ':1>').trim();
  $('lora').value = '';
});
$('model').addEventListener('change', async () => {
  const title = $('model').value;
  $('status').textContent = 'loading ' + title + '…';
  $('model').disabled = true;
  try { await api('/sdapi/v1/options', { method: 'POST', body: JSON.stringify({ sd_model_checkpoint: title }) }); }
  catch (e) { showError(e.message); }
  finally { $('model').disabled = false; health(); }
});

loadLists();
health();
setInterval(health, 5000);
