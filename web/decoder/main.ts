/**
 * The /decoder page. Everything happens here, in the tab: no fetch, no storage, no innerHTML
 * (every token-derived string goes through textContent).
 */
import {
  decodeToken,
  detectKeyInput,
  explainClaim,
  guessCommonSecret,
  isJwsAlgorithm,
  JWS_ALGORITHMS,
  lintToken,
  stringifyNode,
  verifyToken,
  warning,
  type DecodeResult,
  type SecretEncoding,
  type TimeInfo,
  type Warning,
} from '../../src/decoder/index.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const tokenInput = $<HTMLTextAreaElement>('token');
const keyInput = $<HTMLTextAreaElement>('key');
const encodingSelect = $<HTMLSelectElement>('secret-encoding');
const algSelect = $<HTMLSelectElement>('alg');
const tokenView = $('token-view');
const decodeError = $('decode-error');
const warningsList = $('warnings');
const headerOut = $('header');
const payloadOut = $('payload');
const signatureOut = $('signature');
const claimsTable = $<HTMLTableElement>('claims');
const verifyStatus = $('verify-status');
const verifyTime = $('verify-time');

for (const alg of JWS_ALGORITHMS) {
  const o = document.createElement('option');
  o.value = alg;
  o.textContent = alg;
  algSelect.append(o);
}

function el(tag: string, text?: string, cls?: string): HTMLElement {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

let generation = 0;
let current: DecodeResult | undefined;
let lintWarnings: Warning[] = [];
let extraWarnings: Warning[] = [];
let keyWarnings: Warning[] = [];

function renderWarnings(): void {
  const all = [...extraWarnings, ...lintWarnings, ...keyWarnings];
  warningsList.replaceChildren(
    ...all.map((w) => {
      const li = el('li', undefined, `sev-${w.severity}`);
      li.dataset.code = w.code;
      li.dataset.severity = w.severity;
      li.append(el('code', w.code), el('span', w.message));
      return li;
    }),
  );
}

function renderTokenView(d: DecodeResult, raw: string): void {
  if (!d.ok) {
    tokenView.replaceChildren(document.createTextNode(raw.slice(0, 4096)));
    return;
  }
  const parts = d.token.split('.');
  const classes =
    d.kind === 'JWS' ? ['part-header', 'part-payload', 'part-signature'] : ['part-header', 'part-jwe', 'part-jwe', 'part-jwe', 'part-jwe'];
  const nodes: Node[] = [];
  parts.forEach((p, i) => {
    if (i > 0) nodes.push(document.createTextNode('.'));
    nodes.push(el('span', p, classes[i]));
  });
  tokenView.replaceChildren(...nodes);
}

function timeText(t: TimeInfo): string {
  if (t.problem === 'NOT_NUMERIC' || t.problem === 'OUT_OF_RANGE') return t.problem === 'NOT_NUMERIC' ? 'not a number' : 'out of range';
  const ms = t.problem === 'MILLISECONDS' ? ` — looks like milliseconds (${t.asMillisecondsIso ?? '?'})` : '';
  return `${t.relative} · local ${t.local} · ${t.utc} · ${t.iso}${ms}`;
}

function renderClaims(d: DecodeResult, times: TimeInfo[]): void {
  const rows: HTMLElement[] = [];
  if (d.ok && d.kind === 'JWS') {
    const seen = new Set<string>();
    for (const m of d.payload.members) {
      if (seen.has(m.key)) continue;
      seen.add(m.key);
      const info = explainClaim(m.key);
      const t = times.find((x) => x.claim === m.key);
      const tr = el('tr');
      tr.dataset.claim = m.key;
      const desc = el('td');
      if (info) desc.append(el('strong', `${info.name}: `), document.createTextNode(`${info.description} `), el('span', `(${info.spec})`, 'muted'));
      else desc.append(el('span', 'not a registered claim', 'muted'));
      if (t) {
        const line = el('div', timeText(t));
        line.dataset.testid = `time-${m.key}`;
        desc.append(line);
      }
      tr.append(el('td', m.key), desc);
      rows.push(tr);
    }
  }
  claimsTable.replaceChildren(...rows);
}

function setStatus(state: 'none' | 'valid' | 'invalid' | 'checking', text: string, time = ''): void {
  verifyStatus.dataset.status = state;
  verifyStatus.textContent = text;
  verifyTime.textContent = time;
}

async function runVerify(gen: number): Promise<void> {
  keyWarnings = [];
  const d = current;
  const input = detectKeyInput(keyInput.value, encodingSelect.value as SecretEncoding);
  if (!d?.ok) {
    setStatus(input ? 'invalid' : 'none', input ? 'invalid — the token cannot be decoded' : 'no key given — signature not checked');
    renderWarnings();
    return;
  }
  if (!input) {
    setStatus('none', 'no key given — signature not checked');
    renderWarnings();
    return;
  }
  setStatus('checking', 'checking…');
  const alg = algSelect.value;
  const r = await verifyToken(d, input, isJwsAlgorithm(alg) ? { algorithms: [alg], now: Date.now() } : { now: Date.now() });
  if (gen !== generation) return;
  keyWarnings = r.warnings;
  const time = r.valid && r.time !== 'ok' ? `signature valid, but ${r.timeMessage ?? r.time}` : '';
  setStatus(r.valid ? 'valid' : 'invalid', `${r.valid ? 'valid' : 'invalid'} — ${r.message}`, time);
  renderWarnings();
}

async function runGuess(gen: number): Promise<void> {
  const d = current;
  if (!d?.ok || d.kind !== 'JWS') return;
  const g = await guessCommonSecret(d, { shouldStop: () => gen !== generation });
  if (gen !== generation || !g.found) return;
  extraWarnings = [warning('HMAC_SECRET_GUESSED', `It is entry ${g.index + 1} of the shipped list of common secrets.`, '/signature')];
  renderWarnings();
}

function update(): void {
  const gen = ++generation;
  const raw = tokenInput.value;
  extraWarnings = [];
  if (raw.trim() === '') {
    current = undefined;
    lintWarnings = [];
    for (const out of [headerOut, payloadOut, signatureOut]) out.textContent = '';
    tokenView.replaceChildren();
    claimsTable.replaceChildren();
    decodeError.hidden = true;
    void runVerify(gen);
    return;
  }
  const d = decodeToken(raw);
  current = d;
  const { warnings, times } = lintToken(d, { now: Date.now() });
  lintWarnings = warnings;
  renderTokenView(d, raw);
  if (!d.ok) {
    decodeError.hidden = false;
    decodeError.dataset.code = d.code;
    decodeError.textContent = `${d.code}: ${d.message}`;
    for (const out of [headerOut, payloadOut, signatureOut]) out.textContent = '';
  } else {
    decodeError.hidden = true;
    headerOut.textContent = stringifyNode(d.header, 2);
    if (d.kind === 'JWS') {
      payloadOut.textContent = stringifyNode(d.payload, 2);
      signatureOut.textContent = `${d.segments.signature || '(empty)'}\n${d.signature.length} bytes`;
    } else {
      payloadOut.textContent = '(encrypted — JWE payloads need the decryption key)';
      signatureOut.textContent = '(JWE: no signature; integrity comes from the authentication tag)';
    }
  }
  renderClaims(d, times);
  renderWarnings();
  void runVerify(gen).then(() => runGuess(gen));
}

function onKeyChange(): void {
  const gen = ++generation;
  void runVerify(gen).then(() => runGuess(gen));
}

function readFragment(): void {
  const hash = location.hash.slice(1);
  const m = /(?:^|&)token=([^&]*)/.exec(hash);
  if (!m) return;
  let value = m[1]!;
  try {
    value = decodeURIComponent(value);
  } catch {
    // keep it raw; the decoder reports what is wrong
  }
  tokenInput.value = value;
  // Drop the token from the address bar and the session history entry.
  try {
    history.replaceState(null, '', location.pathname);
  } catch {
    // file:// in some browsers
  }
  update();
}

if (/(?:^|[?&])token=/.test(location.search)) $('query-notice').hidden = false;
tokenInput.addEventListener('input', update);
keyInput.addEventListener('input', onKeyChange);
encodingSelect.addEventListener('change', onKeyChange);
algSelect.addEventListener('change', onKeyChange);
window.addEventListener('hashchange', readFragment);
readFragment();
document.documentElement.dataset.ready = 'true';
