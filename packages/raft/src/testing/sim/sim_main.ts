/**
 * The simulator's command line, run as `npm run sim -- [options]`:
 *
 *   --seed <first>               first seed (default 0)
 *   --seeds <count>              number of seeds (default 100)
 *   --steps <n>                  client operations each seed completes (default 2000)
 *   --time-limit-seconds <s>     stop starting new seeds after s seconds of wall time
 *   --variant <name>             run a deliberately broken variant (see broken_variants.ts)
 *   --trace-lines <n>            trace lines printed per failure (default 60)
 *   --checker-time-limit-ms <ms> wall-clock budget per key for the linearizability checker
 *   --verbose                    print one line per seed
 *
 * Prints each failing seed with its first violated property and the trace of the events that
 * led to it, then a summary; exits 1 if any seed failed, 2 on bad arguments. This file is the
 * only place that reads the wall clock: for reporting and for the optional time limits.
 */
import { BrokenVariant } from './broken_variants.ts';
import { describeRunFailure, runSeed, type RunResult } from './simulator.ts';

/** Parsed command-line options. */
export interface CliOptions {
  readonly firstSeed: number;
  readonly seedCount: number;
  readonly steps: number;
  readonly timeLimitSeconds: number;
  readonly variant: BrokenVariant | undefined;
  readonly traceLines: number;
  readonly checkerTimeLimitMs: number | undefined;
  readonly verbose: boolean;
}

function readNumber(args: readonly string[], i: number): number {
  const text = args[i + 1];
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`Give a non-negative number after ${args[i] ?? ''}, got "${text ?? ''}"`);
  }
  return value;
}

function readVariant(text: string | undefined): BrokenVariant {
  const names = Object.values(BrokenVariant) as string[];
  if (text === undefined || !names.includes(text)) {
    throw new RangeError(`Name a variant among ${names.join(', ')}, got "${text ?? ''}"`);
  }
  return text as BrokenVariant;
}

/** Parses argv (without node and the script); throws RangeError on a bad option. */
export function parseArgs(args: readonly string[]): CliOptions {
  const options = {
    firstSeed: 0,
    seedCount: 100,
    steps: 2000,
    timeLimitSeconds: Number.POSITIVE_INFINITY,
    variant: undefined as BrokenVariant | undefined,
    traceLines: 60,
    checkerTimeLimitMs: undefined as number | undefined,
    verbose: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    switch (arg) {
      case '--seed':
        options.firstSeed = readNumber(args, i++);
        break;
      case '--seeds':
        options.seedCount = readNumber(args, i++);
        break;
      case '--steps':
        options.steps = readNumber(args, i++);
        break;
      case '--time-limit-seconds':
        options.timeLimitSeconds = readNumber(args, i++);
        break;
      case '--variant':
        options.variant = readVariant(args[++i]);
        break;
      case '--trace-lines':
        options.traceLines = readNumber(args, i++);
        break;
      case '--checker-time-limit-ms':
        options.checkerTimeLimitMs = readNumber(args, i++);
        break;
      case '--verbose':
        options.verbose = true;
        break;
      default:
        throw new RangeError(`Unknown option "${arg ?? ''}"`);
    }
  }
  return options;
}

function main(): number {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const startMs = Date.now();
  const failures: RunResult[] = [];
  let ran = 0;
  let ops = 0;
  for (let seed = options.firstSeed; seed < options.firstSeed + options.seedCount; seed++) {
    if ((Date.now() - startMs) / 1000 >= options.timeLimitSeconds) {
      process.stdout.write(`Time limit of ${options.timeLimitSeconds}s reached; stopping.\n`);
      break;
    }
    const seedStartMs = Date.now();
    const result = runSeed(seed, {
      opsTarget: options.steps,
      traceTailSize: options.traceLines,
      ...(options.variant === undefined ? {} : { variant: options.variant }),
      ...(options.checkerTimeLimitMs === undefined
        ? {}
        : { checkerTimeLimitMs: options.checkerTimeLimitMs, now: () => Date.now() }),
    });
    ran++;
    ops += result.stats.opsCompleted;
    if (options.verbose) {
      const s = result.stats;
      process.stdout.write(
        `seed ${seed}: ${result.ok ? 'ok' : (result.firstViolation?.property ?? 'fail')} ` +
          `${Date.now() - seedStartMs}ms ops ${s.opsCompleted}/${s.opsIssued} events ${s.events} ` +
          `sim ${(s.simTimeUs / 1e6).toFixed(1)}s elections ${s.elections} crashes ${s.crashes}\n`,
      );
    }
    if (!result.ok) {
      failures.push(result);
      process.stdout.write(`${describeRunFailure(result)}\n`);
    }
  }
  const seconds = (Date.now() - startMs) / 1000;
  process.stdout.write(
    `Summary: ${ran} seeds from ${options.firstSeed}, ${failures.length} failed, ${ops} client operations, ` +
      `${seconds.toFixed(1)}s wall time (${ran === 0 ? 0 : ((seconds * 1000) / ran).toFixed(0)}ms per seed)\n`,
  );
  if (failures.length > 0) {
    process.stdout.write(`Failed seeds: ${failures.map((f) => f.seed).join(' ')}\n`);
  }
  return failures.length === 0 ? 0 : 1;
}

process.exitCode = main();
