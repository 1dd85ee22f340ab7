/**
 * A parser and runner for data-driven test scripts in the format of cockroachdb/datadriven,
 * as etcd-io/raft uses it for its interaction tests (STYLE.md §8.1).
 *
 * A script is a sequence of blocks separated by blank lines; `#` lines between blocks are
 * comments. A block is a directive line `command arg key=value key=(v1,v2)`, optional input
 * lines, a `----` separator and the expected output, which ends at the next blank line:
 *
 *   # A comment about what comes next.
 *   propose 1 foo
 *   ----
 *   ok
 *
 * An output that itself holds blank lines is fenced by a doubled separator: `----` twice
 * before it and `----` twice after it.
 *
 * The runner renders the script again with the actual outputs; the test compares that text to
 * the file, and REWRITE=1 writes it back, so the diff of a rewrite is the review.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One argument of a directive: a bare `key`, `key=value` or `key=(v1,v2,...)`. */
export interface DataDrivenArg {
  readonly key: string;
  /** The values after `=`; `key=()` gives none. */
  readonly values: readonly string[];
  /** True for a bare word without `=`. */
  readonly bare: boolean;
}

/** One block of a script: the directive, its input lines and the expected output. */
export interface TestCase {
  /** Where the directive sits, as `file:line`, for error messages. */
  readonly pos: string;
  readonly command: string;
  readonly args: readonly DataDrivenArg[];
  readonly input: readonly string[];
  readonly expected: string;
}

/** A block with the comments and blank lines before it and its directive text, kept verbatim. */
interface ScriptBlock {
  readonly preamble: readonly string[];
  readonly directive: readonly string[];
  readonly testCase: TestCase;
}

/** A parsed script: its blocks in order and the lines after the last block. */
export interface ParsedScript {
  readonly blocks: readonly ScriptBlock[];
  readonly trailer: readonly string[];
}

/** Runs one test case and returns its actual output (without a trailing newline). */
export type CaseHandler = (testCase: TestCase) => string;

const separator = '----';

/** Splits a directive line into words, keeping `(...)` groups and `"..."` strings whole. */
export function splitDirective(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let depth = 0;
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
    } else if (!quoted && ch === '(') {
      depth++;
    } else if (!quoted && ch === ')') {
      depth--;
    }
    if (!quoted && depth === 0 && /\s/.test(ch)) {
      if (current !== '') {
        words.push(current);
      }
      current = '';
      continue;
    }
    current += ch;
  }
  if (quoted || depth !== 0) {
    throw new Error(`Close every quote and parenthesis in directive "${line}"`);
  }
  if (current !== '') {
    words.push(current);
  }
  return words;
}

function unquote(word: string): string {
  return word.length >= 2 && word.startsWith('"') && word.endsWith('"') ? word.slice(1, -1) : word;
}

/** Parses one argument word. */
export function parseArg(word: string): DataDrivenArg {
  const eq = word.indexOf('=');
  if (eq < 0 || word.startsWith('"')) {
    return { key: unquote(word), values: [], bare: true };
  }
  const key = word.slice(0, eq);
  const raw = word.slice(eq + 1);
  if (raw.startsWith('(') && raw.endsWith(')')) {
    const inner = raw.slice(1, -1).trim();
    const values = inner === '' ? [] : inner.split(',').map((v) => unquote(v.trim()));
    return { key, values, bare: false };
  }
  return { key, values: [unquote(raw)], bare: false };
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

/** Reads the expected output after a `----` line; returns it and the index of the next line. */
function readExpected(lines: readonly string[], start: number): { expected: string; next: number } {
  if (lines[start] === separator) {
    // Fenced output: runs until a `----` line followed by another `----` line.
    const out: string[] = [];
    let i = start + 1;
    while (i < lines.length && !(lines[i] === separator && lines[i + 1] === separator)) {
      out.push(lines[i] ?? '');
      i++;
    }
    if (i >= lines.length) {
      throw new Error(`Close the fenced output that starts at line ${start + 1} with "----" twice`);
    }
    return { expected: out.join('\n'), next: i + 2 };
  }
  const out: string[] = [];
  let i = start;
  while (i < lines.length && !isBlank(lines[i] ?? '')) {
    out.push(lines[i] ?? '');
    i++;
  }
  return { expected: out.join('\n'), next: i };
}

/** Parses a whole script. Throws when a directive has no `----` line. */
export function parseScript(text: string, fileName: string): ParsedScript {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
  }
  const blocks: ScriptBlock[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (isBlank(line) || line.startsWith('#')) {
      preamble.push(line);
      i++;
      continue;
    }
    const directiveLine = i;
    const directive: string[] = [];
    while (i < lines.length && lines[i] !== separator) {
      directive.push(lines[i] ?? '');
      i++;
    }
    if (i >= lines.length) {
      throw new Error(`${fileName}:${directiveLine + 1}: add a "----" line after the directive`);
    }
    const { expected, next } = readExpected(lines, i + 1);
    const words = splitDirective(directive[0] ?? '');
    const testCase: TestCase = {
      pos: `${fileName}:${directiveLine + 1}`,
      command: words[0] ?? '',
      args: words.slice(1).map(parseArg),
      input: directive.slice(1),
      expected,
    };
    blocks.push({ preamble, directive, testCase });
    preamble = [];
    i = next;
  }
  return { blocks, trailer: preamble };
}

/** Renders a script with the given outputs in place of the expected ones. */
export function renderScript(script: ParsedScript, outputs: readonly string[]): string {
  const lines: string[] = [];
  script.blocks.forEach((block, n) => {
    const output = outputs[n] ?? block.testCase.expected;
    lines.push(...block.preamble, ...block.directive, separator);
    if (output.split('\n').some(isBlank) && output !== '') {
      lines.push(separator, output, separator, separator);
    } else if (output !== '') {
      lines.push(output);
    }
  });
  lines.push(...script.trailer);
  return `${lines.join('\n')}\n`;
}

/** Runs every block of a script in order and returns the script rendered with the results. */
export function runScript(
  text: string,
  options: { fileName: string; handler: CaseHandler },
): string {
  const script = parseScript(text, options.fileName);
  const outputs = script.blocks.map((block) => {
    try {
      return options.handler(block.testCase).replace(/\n+$/, '');
    } catch (error: unknown) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${block.testCase.pos}: ${block.testCase.command}: ${message}`, {
        cause: error,
      });
    }
  });
  return renderScript(script, outputs);
}

/** Whether the expectations should be rewritten in place (REWRITE=1). */
export function rewriteRequested(): boolean {
  const value = process.env['REWRITE'];
  return value !== undefined && value !== '' && value !== '0';
}

/** The paths of the `*.txt` scripts in a directory, sorted by name. */
export function listScripts(dir: URL): string[] {
  const path = fileURLToPath(dir);
  return readdirSync(path)
    .filter((name) => name.endsWith('.txt'))
    .sort()
    .map((name) => `${path.replace(/\/$/, '')}/${name}`);
}

/**
 * Runs a script file. Returns the file's text and the text rendered with the actual outputs;
 * with `rewrite` the rendered text replaces the file.
 */
export function runScriptFile(
  path: string,
  options: { handler: CaseHandler; rewrite: boolean },
): { original: string; actual: string } {
  const original = readFileSync(path, 'utf8');
  const fileName = path.slice(path.lastIndexOf('/') + 1);
  const actual = runScript(original, { fileName, handler: options.handler });
  if (options.rewrite && actual !== original) {
    writeFileSync(path, actual);
  }
  return { original, actual };
}

/** Positional arguments: the keys of the arguments that carry no `=value`. */
export function positionals(testCase: TestCase): string[] {
  return testCase.args.filter((arg) => arg.bare).map((arg) => arg.key);
}

/** The values of a `key=...` argument, or undefined when it is absent. */
export function findArg(testCase: TestCase, key: string): readonly string[] | undefined {
  return testCase.args.find((arg) => arg.key === key && !arg.bare)?.values;
}

/** Parses a non-negative integer argument value, or throws naming the argument. */
export function parseCount(value: string, name: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new Error(`Give "${name}" a non-negative integer, got "${value}"`);
  }
  return n;
}

/** The positional arguments as non-negative integers (node ids, counts). */
export function positionalCounts(testCase: TestCase): number[] {
  return positionals(testCase).map((word) => parseCount(word, 'positional argument'));
}

/** The single value of a `key=value` argument, or undefined when it is absent. */
export function findSingleArg(testCase: TestCase, key: string): string | undefined {
  const values = findArg(testCase, key);
  if (values !== undefined && values.length !== 1) {
    throw new Error(`Give "${key}" one value, got ${values.length}`);
  }
  return values?.[0];
}
