/** The e-mail rule of src/auth/email.ts, row by row: what is the same address, what is refused and why. */
import { describe, it, expect } from 'vitest';
import { checkEmail, emailKey, requireEmail, type EmailProblem } from '../../src/auth/email.js';

describe('checkEmail: one normalised form per address', () => {
  it.each([
    ['Ada@Example.COM', 'ada@example.com'],
    ['  ada@example.com\n', 'ada@example.com'],
    ['jose\u0301@example.com', 'jos\u00e9@example.com'],
    ['JOS\u00c9@example.com', 'jos\u00e9@example.com'],
    ['\u00c4da@example.com', '\u00e4da@example.com'],
    ['a@B\u00fccher.example', 'a@xn--bcher-kva.example'],
    ['a@xn--bcher-kva.example', 'a@xn--bcher-kva.example'],
    ['a@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d', 'a@example.com'],
    ["o'brien+tag@example.co.uk", "o'brien+tag@example.co.uk"],
    ['\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a', '\u7528\u6237@xn--fsqu00a.xn--4rr70v'],
  ])('%j → %j', (input, expected) => {
    expect(checkEmail(input)).toEqual({ ok: true, email: expected });
    expect(requireEmail(input)).toBe(expected);
    expect(emailKey(input)).toBe(expected);
  });

  it.each<[string, EmailProblem]>([
    ['', 'syntax'],
    ['ada', 'syntax'],
    ['ada@', 'syntax'],
    ['@example.com', 'syntax'],
    ['a@b@example.com', 'syntax'],
    ['ada\uff20example.com', 'syntax'],
    ['a\u200b@example.com', 'character'],
    ['a\u200c@example.com', 'character'],
    ['a\u2060@example.com', 'character'],
    ['a\u00ad@example.com', 'character'],
    ['a\u202e@example.com', 'character'],
    ['a\u2066@example.com', 'character'],
    ['a\u0000@example.com', 'character'],
    ['a\u0007@example.com', 'character'],
    ['a b@example.com', 'character'],
    ['a\u00a0b@example.com', 'character'],
    ['a\u2028@example.com', 'character'],
    ['a\ue000@example.com', 'character'],
    ['a\ud800@example.com', 'character'],
    ['a@exa\u200bmple.com', 'character'],
    ['.ada@example.com', 'local_part'],
    ['ada.@example.com', 'local_part'],
    ['a..da@example.com', 'local_part'],
    ['"ada"@example.com', 'local_part'],
    ['a(da)@example.com', 'local_part'],
    ['a\ufe6b@example.com', 'local_part'],
    ['a\u2024b@example.com', 'local_part'],
    ['\uff41da@example.com', 'compatibility'],
    ['\ufb01@example.com', 'compatibility'],
    ['a\u00b2@example.com', 'compatibility'],
    ['ada@example.com.', 'trailing_dot'],
    ['ada@example.com\u3002', 'trailing_dot'],
    ['ada@localhost', 'domain'],
    ['ada@127.0.0.1', 'domain'],
    ['ada@[127.0.0.1]', 'domain'],
    ['ada@0x7f.1', 'domain'],
    ['ada@ex_ample.com', 'domain'],
    ['ada@-example.com', 'domain'],
    ['ada@example..com', 'domain'],
    [`${'a'.repeat(65)}@example.com`, 'length'],
    [`${'\u00e9'.repeat(33)}@example.com`, 'length'],
    [`a@${'b'.repeat(64)}.com`, 'domain'],
    [`a@${`${'b'.repeat(62)}.`.repeat(4)}com`, 'length'],
    [`${'a'.repeat(64)}@${`${'b'.repeat(62)}.`.repeat(3)}${'c'.repeat(2)}`, 'length'], // 64 + 1 + 191 octets
    ['a'.repeat(2000), 'length'],
  ])('%j is refused: %s', (input, problem) => {
    const checked = checkEmail(input);
    expect(checked).toMatchObject({ ok: false, problem });
    expect(() => requireEmail(input)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    if (!checked.ok && input.length > 2) expect(checked.message).not.toContain(input);
  });

  it('emailKey of a refused address is a stable key, never an account address', () => {
    expect(emailKey(' A\u200b@Example.com ')).toBe('a\u200b@example.com');
    expect(emailKey('jose\u0301@EXAMPLE.com.')).toBe('jos\u00e9@example.com.');
  });
});
