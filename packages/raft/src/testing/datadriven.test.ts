// Goal: the data-driven script parser and runner, and the interaction handlers' argument
// checks, including malformed input (STYLE.md §8.6). Method: parse, run and render small
// inline scripts; a script that renders unchanged round-trips, and every malformed directive
// or argument fails with a message naming its position.
import { describe, expect, it } from 'vitest';
import { parseArg, parseScript, runScript, splitDirective } from './datadriven.ts';
import { InteractionEnv } from './interaction_env.ts';
import { runInteraction } from './interaction_handlers/dispatch.ts';

function interact(script: string): string {
  const env = new InteractionEnv();
  return runScript(script, { fileName: 't.txt', handler: (tc) => runInteraction(env, tc) });
}

describe('datadriven', () => {
  it('splitDirective keeps parenthesized lists and quoted strings whole', () => {
    expect(splitDirective('add-nodes 3 voters=(1, 2, 3) x="a b"')).toEqual([
      'add-nodes',
      '3',
      'voters=(1, 2, 3)',
      'x="a b"',
    ]);
  });

  it('splitDirective rejects an unclosed parenthesis or quote', () => {
    expect(() => splitDirective('add-nodes voters=(1,2')).toThrow(/Close every quote/);
    expect(() => splitDirective('propose 1 "x')).toThrow(/Close every quote/);
  });

  it('parseArg tells bare words, single values, lists and empty lists apart', () => {
    expect(parseArg('1')).toEqual({ key: '1', values: [], bare: true });
    expect(parseArg('to=2')).toEqual({ key: 'to', values: ['2'], bare: false });
    expect(parseArg('voters=(1,2)')).toEqual({ key: 'voters', values: ['1', '2'], bare: false });
    expect(parseArg('voters=()')).toEqual({ key: 'voters', values: [], bare: false });
  });

  it('parseScript keeps comments, input lines and expected output per block', () => {
    const script = parseScript('# c\n\ncmd a k=v\nin\n----\nout\n\nnext\n----\nok\n', 'f.txt');
    expect(script.blocks.map((b) => b.testCase)).toEqual([
      {
        pos: 'f.txt:3',
        command: 'cmd',
        args: [
          { key: 'a', values: [], bare: true },
          { key: 'k', values: ['v'], bare: false },
        ],
        input: ['in'],
        expected: 'out',
      },
      { pos: 'f.txt:8', command: 'next', args: [], input: [], expected: 'ok' },
    ]);
  });

  it('parseScript rejects a directive without a separator', () => {
    expect(() => parseScript('cmd\n', 'f.txt')).toThrow(/f\.txt:1: add a "----" line/);
  });

  it('runScript round-trips a script whose outputs match', () => {
    const text = '# c\ncmd\n----\nx\n\n# tail\n';
    expect(runScript(text, { fileName: 'f.txt', handler: () => 'x' })).toBe(text);
  });

  it('runScript fences an output that holds a blank line and reads it back', () => {
    const rendered = runScript('cmd\n----\nold\n', { fileName: 'f.txt', handler: () => 'a\n\nb' });
    expect(rendered).toBe('cmd\n----\n----\na\n\nb\n----\n----\n');
    expect(parseScript(rendered, 'f.txt').blocks[0]?.testCase.expected).toBe('a\n\nb');
  });

  it('runScript names the block position when a handler fails', () => {
    const fail = (): string => {
      throw new Error('boom');
    };
    expect(() => runScript('\ncmd\n----\n', { fileName: 'f.txt', handler: fail })).toThrow(
      'f.txt:2: cmd: boom',
    );
  });
});

describe('interaction handlers', () => {
  it('runInteraction rejects an unknown command', () => {
    expect(() => interact('frobnicate 1\n----\n')).toThrow(/"frobnicate" is not one/);
  });

  it('add-nodes rejects an unknown option and a malformed value', () => {
    expect(() => interact('add-nodes 1 bogus=1\n----\n')).toThrow(/Name a known option/);
    expect(() => interact('add-nodes 1 preVote=yes\n----\n')).toThrow(/true or false/);
    expect(() => interact('add-nodes 1 electionTimeoutTicks=-3\n----\n')).toThrow(
      /non-negative integer/,
    );
  });

  it('commands reject a node that does not exist or is down', () => {
    expect(() => interact('campaign 7\n----\n')).toThrow(/there is no node 7/);
    expect(() => interact('add-nodes 1\n----\n\ncrash 1\n----\n\ntick 1\n----\n')).toThrow(
      /Restart node 1 first/,
    );
  });

  it('propose-conf-change rejects a change that is not v, l or r', () => {
    expect(() => interact('add-nodes 1\n----\n\npropose-conf-change 1 x4\n----\n')).toThrow(
      /v<id>, l<id> or r<id>/,
    );
  });

  it('set-randomized-election-timeout rejects a timeout outside [ET, 2ET)', () => {
    expect(() =>
      interact('add-nodes 1\n----\n\nset-randomized-election-timeout 1 timeout=9\n----\n'),
    ).toThrow(/Pick a timeout in \[3, 6\)/);
  });

  it('deliver-msgs requires recipients', () => {
    expect(() => interact('deliver-msgs\n----\n')).toThrow(/Name the recipients/);
  });
});
