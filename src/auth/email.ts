/**
 * E-mail addresses: the one rule by which Latchkey accepts, normalises and compares them
 * (docs/http-api.md#passwords-and-e-mail-addresses). Register, login, the admin commands, the
 * user import and the e-mail features all go through this module, so that one address is one
 * account and a look-alike is either the same account or refused — never a second one.
 *
 * The rule, in order:
 * 1. Surrounding whitespace is trimmed (`String.prototype.trim`).
 * 2. Unicode NFC; then the case rule: `toLowerCase()` (Unicode's default, locale-independent
 *    case mapping) on the whole address, then NFC again.
 * 3. Refused anywhere: controls (NUL, tab, CR, LF…), format characters (zero-width space and
 *    joiners, soft hyphen, bidi controls such as U+202E, BOM), separators and spaces,
 *    surrogates, private-use and unassigned code points.
 * 4. Exactly one `@` (U+0040). Look-alikes (`＠` U+FF20, `﹫` U+FE6B) are not `@`.
 * 5. Local part: dot-atom (RFC 5322) of ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~``, or
 *    non-ASCII letters, marks and digits (RFC 6531); no quoted local parts; no compatibility
 *    characters (fullwidth letters, ligatures, superscripts: anything NFKC would change) —
 *    refused, not mapped, because a mapped local part could reach a different mailbox.
 * 6. Domain: no trailing dot; converted with IDNA (UTS #46, `node:url` `domainToASCII`), which
 *    maps fullwidth letters and dots as every browser does; the result must be a host name of
 *    LDH labels with a non-numeric top-level label (no IP addresses or literals). The stored
 *    address carries the ASCII (punycode) domain.
 * 7. Lengths (RFC 5321 §4.5.3.1): local part ≤ 64 octets, domain ≤ 253, address ≤ 254 (UTF-8).
 *
 * Not covered: confusable letters of other scripts (a Cyrillic `а` for a Latin `a`) are
 * different addresses, as they are different mailboxes.
 */
import { domainToASCII } from 'node:url';
import { ApiError } from '../errors.js';

/** Longest address in UTF-8 octets (RFC 5321: a 256-octet path minus its angle brackets). */
const MAX_EMAIL_OCTETS = 254;
const MAX_LOCAL_OCTETS = 64;
const MAX_DOMAIN_OCTETS = 253;
/** Input longer than this (in UTF-16 code units) is refused before any normalisation work. */
const MAX_INPUT_LENGTH = 1024;

/** Why an address is refused: the reason a user is told (its message) and the CLI reports. */
export type EmailProblem = 'length' | 'character' | 'syntax' | 'local_part' | 'compatibility' | 'domain' | 'trailing_dot';

const MESSAGES: Record<EmailProblem, string> = {
  length: 'The e-mail address is too long.',
  character: 'The e-mail address contains a control, format, space or unassigned character.',
  syntax: 'A valid e-mail address is required.',
  local_part: 'The part of the e-mail address before "@" is not valid.',
  compatibility: 'The e-mail address contains fullwidth or other compatibility characters; type it with ordinary characters.',
  domain: 'The domain of the e-mail address is not valid.',
  trailing_dot: 'The domain of the e-mail address must not end with a dot.',
};

export type EmailCheck = { ok: true; email: string } | { ok: false; problem: EmailProblem; message: string };

const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Z}]/u;
const ASCII_ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]$/;
const UNICODE_ATEXT = /^[\p{L}\p{M}\p{N}]$/u;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const octets = (text: string): number => Buffer.byteLength(text, 'utf8');
const refuse = (problem: EmailProblem): EmailCheck => ({ ok: false, problem, message: MESSAGES[problem] });

function localPartProblem(local: string): EmailProblem | undefined {
  if (local === '' || octets(local) > MAX_LOCAL_OCTETS) return local === '' ? 'syntax' : 'length';
  for (const atom of local.split('.')) {
    if (atom === '') return 'local_part'; // leading, trailing or doubled dot
    for (const ch of atom) if (!ASCII_ATEXT.test(ch) && !(ch.charCodeAt(0) > 0x7f && UNICODE_ATEXT.test(ch))) return 'local_part';
  }
  if (local.normalize('NFKC') !== local) return 'compatibility';
  return undefined;
}

/** The ASCII form of `domain`, or why it is refused. */
function asciiDomain(domain: string): { ascii: string } | { problem: EmailProblem } {
  if (domain === '') return { problem: 'syntax' };
  if (domain.endsWith('.')) return { problem: 'trailing_dot' };
  const ascii = domainToASCII(domain);
  if (ascii === '') return { problem: 'domain' };
  // IDNA maps the ideographic and fullwidth full stops to "." — a trailing one is still one.
  if (ascii.endsWith('.')) return { problem: 'trailing_dot' };
  if (octets(ascii) > MAX_DOMAIN_OCTETS) return { problem: 'length' };
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label)) || /^[0-9]+$/.test(labels.at(-1)!)) return { problem: 'domain' };
  return { ascii };
}

/** Applies the rule to `input`: the normalised address, or why it is refused. */
export function checkEmail(input: string): EmailCheck {
  if (input.length > MAX_INPUT_LENGTH) return refuse('length');
  const address = input.trim().normalize('NFC').toLowerCase().normalize('NFC');
  if (FORBIDDEN.test(address)) return refuse('character');
  const at = address.indexOf('@');
  if (at < 0 || address.indexOf('@', at + 1) >= 0) return refuse('syntax');
  const local = address.slice(0, at);
  const localProblem = localPartProblem(local);
  if (localProblem) return refuse(localProblem);
  const domain = asciiDomain(address.slice(at + 1));
  if ('problem' in domain) return refuse(domain.problem);
  const email = `${local}@${domain.ascii}`;
  if (octets(email) > MAX_EMAIL_OCTETS) return refuse('length');
  return { ok: true, email };
}

/** The normalised address, or 400 `VALIDATION_FAILED` saying why it is refused (register, create, import). */
export function requireEmail(input: string): string {
  const checked = checkEmail(input);
  if (!checked.ok) throw new ApiError('VALIDATION_FAILED', checked.message);
  return checked.email;
}

/**
 * The key an address is looked up and rate-limited by (login, the admin CLI): its normalised
 * form; for input the rule refuses (which no account can have), the same steps short of the
 * refusals, so that counting still works on it.
 */
export function emailKey(input: string): string {
  const checked = checkEmail(input);
  if (checked.ok) return checked.email;
  return input.slice(0, MAX_INPUT_LENGTH).trim().normalize('NFC').toLowerCase().normalize('NFC');
}
