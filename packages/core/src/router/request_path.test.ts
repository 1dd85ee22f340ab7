import { SeededRandom } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { validateRequestPath } from './request_path.ts';

function codeOf(path: string): string | undefined {
  try {
    validateRequestPath(path);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('validateRequestPath', () => {
  it('accepts plain segments, one leading slash and one trailing slash', () => {
    expect(validateRequestPath('secret/data/app')).toEqual({
      path: 'secret/data/app',
      trailingSlash: false,
    });
    expect(validateRequestPath('/secret/metadata/')).toEqual({
      path: 'secret/metadata',
      trailingSlash: true,
    });
    expect(validateRequestPath('secret/data/ünïcødé/日本')).toMatchObject({
      path: 'secret/data/ünïcødé/日本',
    });
  });

  it.each([
    ['secret//x', 'an empty segment'],
    ['secret/./x', 'a "." segment'],
    ['secret/../sys/x', 'a ".." segment'],
    ['..', 'a bare ".."'],
    ['secret/x/..', 'a trailing ".."'],
    ['secret/%2e%2e/x', 'an encoded dot segment'],
    ['secret/a%2Fb', 'an encoded slash'],
    ['secret/100%', 'a literal percent'],
    ['secret/a\u0000b', 'a NUL'],
    ['secret/a\nb', 'a newline'],
    ['secret/a\u007fb', 'DEL'],
    ['secret/a\u0085b', 'a C1 control'],
    ['secret/a\u2028b', 'a line separator'],
    ['secret/e\u0301', 'a non-NFC sequence'],
    ['secret/\ud800x', 'a lone surrogate'],
    ['//secret', 'two leading slashes'],
    ['secret//', 'two trailing slashes'],
    ['a/'.repeat(600), 'an overlong path'],
  ])('refuses %j (%s) with COFFER_CORE_INVALID_PATH', (path) => {
    expect(codeOf(path)).toBe(CoreErrorCode.invalidPath);
  });

  it('quotes a refused path on one line of plain text: every control character escaped', () => {
    for (const control of ['\u0000', '\n', '\u007f', '\u0085', '\u009f', '\u2028', '\u2029']) {
      let message = '';
      try {
        validateRequestPath(`secret/a${control}b`);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, JSON.stringify(control)).toMatch(/^Send a path of plain segments/);
      // eslint-disable-next-line no-control-regex -- NB: finding control characters is the point.
      const controls = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
      expect(controls.test(message), JSON.stringify(control)).toBe(false);
    }
  });

  it('escapes bidirectional controls in a quoted path', () => {
    let message = '';
    try {
      validateRequestPath('secret/\u202etxt.exe/..');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('\\u202e');
    expect(message).not.toContain('\u202e');
  });

  it('never names a secret-looking tail beyond 64 characters in its message', () => {
    const tail = 'x'.repeat(100);
    try {
      validateRequestPath(`secret//${tail}`);
    } catch (error) {
      expect((error as Error).message).not.toContain(tail);
    }
  });

  it('accepts exactly the paths whose segments are clean (property, seeded)', () => {
    const random = new SeededRandom(20261125);
    const pieces = [
      'a',
      'b',
      '.',
      '..',
      '',
      '%2e',
      'é',
      'e\u0301',
      '\uff0f',
      'а',
      '*',
      '+',
      ' ',
      '\t',
      'x.y',
    ];
    for (let i = 0; i < 5000; i++) {
      const segments = Array.from({ length: 1 + random.int(5) }, () =>
        Array.from({ length: 1 + random.int(2) }, () => random.pick(pieces)).join(''),
      );
      const path = segments.join('/') + (random.chance(0.3) ? '/' : '');
      // NB: an empty first or last segment reads as a leading or trailing slash: allowed once.
      const stripped = path.replace(/^\//, '').replace(/\/$/, '');
      const clean =
        stripped === '' ||
        stripped
          .split('/')
          .every(
            (s) =>
              s !== '' &&
              s !== '.' &&
              s !== '..' &&
              !s.includes('%') &&
              !s.includes('\t') &&
              s.normalize('NFC') === s,
          );
      expect(codeOf(path) === undefined, path).toBe(clean);
    }
  });
});
