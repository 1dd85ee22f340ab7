/**
 * Goal: the stream input reads lines one at a time and the rest to the end, and on a terminal
 * reads a line with echo off (raw mode on, then off), handling backspace and Ctrl-C, and never
 * writes what was typed.
 * Method: createStreamInput over a PassThrough, and over a PassThrough dressed as a TTY whose
 * setRawMode is recorded.
 */
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { createStreamInput } from './stream_input.ts';

function terminal() {
  const stream = new PassThrough();
  const modes: boolean[] = [];
  return Object.assign(stream, {
    isTTY: true,
    modes,
    setRawMode: (mode: boolean) => {
      modes.push(mode);
      return stream;
    },
  });
}

describe('createStreamInput', () => {
  it('readLine reads one line at a time and readAll the rest', async () => {
    const stream = new PassThrough();
    const input = createStreamInput(stream, () => undefined);
    stream.write('first\r\nsec');
    expect(await input.readLine()).toBe('first');
    stream.end('ond\nthird\n');
    expect(await input.readLine()).toBe('second');
    expect(await input.readAll()).toBe('third\n');
    expect(await input.readLine()).toBeUndefined();
  });

  it('readLine returns a last line without a line end, then undefined', async () => {
    const stream = new PassThrough();
    stream.end('only');
    const input = createStreamInput(stream, () => undefined);
    expect(input.isTty).toBe(false);
    expect(await input.readLine()).toBe('only');
    expect(await input.readLine()).toBeUndefined();
  });

  it('readHidden reads with echo off, handles backspace and restores the terminal', async () => {
    const tty = terminal();
    let written = '';
    const input = createStreamInput(tty, (text) => {
      written += text;
    });
    expect(input.isTty).toBe(true);
    const reading = input.readHidden('Unseal key: ');
    tty.write('sharx\u007fe-1\r');
    expect(await reading).toBe('share-1');
    expect(tty.modes).toEqual([true, false]);
    expect(written).toBe('Unseal key: \n');
  });

  it('readHidden gives undefined on Ctrl-C', async () => {
    const tty = terminal();
    const input = createStreamInput(tty, () => undefined);
    const reading = input.readHidden('Token: ');
    tty.write('abc\u0003');
    expect(await reading).toBeUndefined();
    expect(tty.modes).toEqual([true, false]);
  });
});
