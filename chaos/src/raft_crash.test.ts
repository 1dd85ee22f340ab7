/**
 * Goal: a Raft cluster on real LevelDB logs loses no acknowledged proposal and applies none
 * twice across SIGKILLs, and exactly-once client sessions answer a request retried after a
 * crash and a leader change with its original response, applied once.
 *
 * Method: raft_crash_child.ts runs the cluster in a child process (one voter, or three voters
 * in the one process so that they all die together like a power loss). The parent plays two
 * session clients and runs seeded rounds on the same data directory. Each round restarts the
 * child, forces a different leader (three voters), retries every unanswered request with the
 * same client id, sequence and payload until it is answered, checks the applied lists, then
 * keeps many new requests in flight and SIGKILLs the child at a seeded point: either after a
 * seeded count of answers with at least a seeded count in flight, or at the named failpoint
 * COFFER_TEST_FAILPOINT=after-persist-before-apply (once a seeded N synced persists have
 * returned, the child kills itself right after the first persist that leaves committed entries
 * durable but unapplied, and says so on stderr). Some answers are seen and then treated as
 * lost, so the next incarnation must return the same bytes. Checks: every answered request is
 * in every node's list exactly once, at the position its answer names; nothing unproposed is
 * applied; retried answers equal the first ones byte for byte. A final incarnation retries
 * everything, checks that all requests are applied once, and stops cleanly. Every wait has a
 * deadline; the child's readiness and answers are awaited as events, never as sleeps.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { decodeSessionResponse, SessionStatus } from '@coffer/raft/node';
import { SeededRandom } from '@coffer/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';

import type { ChildAnswer, ClusterLayout, Leadership, ParentMessage } from './raft_crash_child.ts';

const childScript = fileURLToPath(new URL('./raft_crash_child.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const failpointName = 'after-persist-before-apply';

const roundsPerLayout = 6;
/** Concurrent requests the parent keeps in flight while it waits for the kill point. */
const lanes = 12;
/** Sequences a client may run ahead of its lowest unanswered one. */
const windowSequences = 64;
/** Answers per client and round that are seen, then treated as lost. */
const hiddenPerClientMax = 2;
/** New requests per round at most; the kill point comes long before. */
const newRequestsPerRoundMax = 400;
const startDeadlineMs = 20_000;
const roundDeadlineMs = 30_000;
const exitDeadlineMs = 10_000;

type RoundKind = 'acks' | 'failpoint';

interface KillPlan {
  readonly kind: RoundKind;
  /** acks: answers to wait for before the kill. failpoint: synced persists after arming. */
  readonly count: number;
  /** acks: requests that must be in flight at the kill. */
  readonly inFlightMin: number;
}

type RequestState = 'unanswered' | 'answered' | 'hidden';

interface TrackedClient {
  readonly label: string;
  readonly clientId: number;
  nextSequence: number;
  readonly requests: TrackedRequest[];
  hiddenThisRound: number;
}

interface TrackedRequest {
  readonly client: TrackedClient;
  readonly sequence: number;
  readonly payload: string;
  state: RequestState;
  /** The incarnation of the child this request was first sent to. */
  readonly sentTo: number;
  first: { readonly result: string; readonly leadership: Leadership } | undefined;
}

/** What the rounds proved and where they killed, for the assertions and the failure messages. */
interface Evidence {
  retriedSeenAnswers: number;
  retriedSeenAcrossLeaderIds: number;
  retriedSeenAcrossTerms: number;
  retriedUnseenAnswers: number;
  /** Unseen answers that came from the session table: applied before the crash, then lost. */
  retriedUnseenAppliedBefore: number;
  restartsFromSnapshot: number;
  readonly kills: string[];
  readonly leaders: number[];
  readonly failures: string[];
}

interface Run {
  readonly layout: ClusterLayout;
  readonly dataDir: string;
  readonly random: SeededRandom;
  readonly clients: TrackedClient[];
  readonly byPayload: Map<string, TrackedRequest>;
  readonly evidence: Evidence;
  registerAttempts: number;
  incarnation: number;
  /** Whether answers may be hidden now: only under load in rounds killed by answer counts. */
  hiding: boolean;
  /** The durable commit index the current incarnation reopened with. */
  commitAtOpen: number;
  lastLeaderId: number;
  deadlineMs: number;
}

/** Rejects when promise has not settled within ms; the timer never outlives the promise. */
async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`Timed out after ${ms} ms waiting for ${what}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One incarnation of the child process, with request/answer matching over IPC. */
class ChildHandle {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  readonly ready: Promise<Extract<ChildAnswer, { type: 'ready' }>>;
  /** True once the child exited or we killed it: its answers no longer count. */
  gone = false;
  stderr = '';
  #nextId = 1;
  readonly #pending = new Map<number, (answer: ChildAnswer | undefined) => void>();

  constructor(run: Run, failpoint: boolean) {
    const env = { ...process.env };
    delete env['COFFER_TEST_FAILPOINT'];
    if (failpoint) {
      env['COFFER_TEST_FAILPOINT'] = failpointName;
    }
    const seed = run.random.nextUint32();
    const campaigner = run.layout === 'single' ? 1 : pickOther(run.random, run.lastLeaderId);
    this.process = fork(childScript, [run.dataDir, run.layout, String(seed), String(campaigner)], {
      cwd: repoRoot,
      env,
      execArgv: ['--conditions=@coffer/source', '--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const stderr = this.process.stderr;
    stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    const stderrEnded = new Promise((resolve) => stderr?.once('close', resolve));
    const exit = new Promise<ChildExit>((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.#abandon();
        resolve({ code, signal });
      });
    });
    // NB: not the 'close' event: it never comes once the parent has called disconnect().
    this.exited = Promise.all([exit, stderrEnded]).then(([result]) => result);
    this.ready = new Promise((resolve, reject) => {
      this.process.on('message', (raw) => {
        const answer = raw as ChildAnswer;
        if (answer.type === 'ready') {
          resolve(answer);
          return;
        }
        this.#answer(answer);
      });
      void this.exited.then((exit) => {
        reject(new Error(`The child exited before it was ready: ${describeExit(exit)}`));
      });
    });
  }

  /** Sends a message; resolves with the answer, or undefined when the child is gone. */
  request(message: DistributiveOmit<ParentMessage, 'id'>): Promise<ChildAnswer | undefined> {
    if (this.gone) {
      return Promise.resolve(undefined);
    }
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.process.send({ ...message, id }, (error) => {
        if (error !== null) {
          this.#pending.delete(id);
          resolve(undefined);
        }
      });
    });
  }

  /** SIGKILLs the child by its pid; answers still on their way are ignored. */
  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGKILL');
    }
    this.#abandon();
  }

  #answer(answer: ChildAnswer): void {
    const resolve = this.#pending.get(answer.id);
    if (resolve !== undefined && !this.gone) {
      this.#pending.delete(answer.id);
      resolve(answer);
    }
  }

  #abandon(): void {
    this.gone = true;
    for (const resolve of this.#pending.values()) {
      resolve(undefined);
    }
    this.#pending.clear();
  }
}

function describeExit(exit: ChildExit): string {
  return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
}

/** A voter of the three other than `avoid`, picked by the seeded source. */
function pickOther(random: SeededRandom, avoid: number): number {
  return random.pick([1, 2, 3].filter((id) => id !== avoid));
}

/** Where the application says it applied a request: "#position@index" after the status byte. */
function appliedAt(result: string): { position: number; index: number } {
  const body = decodeSessionResponse(Buffer.from(result, 'base64')).body;
  const match = /^#(\d+)@(\d+)$/.exec(new TextDecoder().decode(body));
  return { position: Number(match?.[1] ?? NaN), index: Number(match?.[2] ?? NaN) };
}

/** The lowest sequence whose answer the client has not accepted as final. */
function ackedBelow(client: TrackedClient): number {
  const open = client.requests.find((r) => r.state !== 'answered');
  return open === undefined ? client.nextSequence : open.sequence;
}

function checkDeadline(run: Run, what: string): void {
  if (performance.now() > run.deadlineMs) {
    throw new Error(`Round deadline passed while ${what}`);
  }
}

/**
 * Records an applied answer: the first one is kept; a later one must carry the same bytes.
 * While run.hiding, a seeded few answers are seen and then treated as lost, to be retried later.
 */
function recordAnswer(run: Run, request: TrackedRequest, answer: ChildAnswer): void {
  if (answer.type !== 'applied') {
    throw new Error(`Unexpected answer ${answer.type} to a proposal`);
  }
  const { status } = decodeSessionResponse(Buffer.from(answer.result, 'base64'));
  const name = `${request.payload} (client ${request.client.clientId})`;
  if (status !== SessionStatus.ok) {
    run.evidence.failures.push(`${name} answered session status ${status}`);
  }
  const first = request.first;
  if (first === undefined) {
    request.first = { result: answer.result, leadership: answer.leadership };
    if (request.sentTo < run.incarnation) {
      run.evidence.retriedUnseenAnswers++;
      // The answer names the entry that applied the request: one from before the restart
      // means the request was applied then, its answer lost, and the retry got it back.
      if (appliedAt(answer.result).index <= run.commitAtOpen) {
        run.evidence.retriedUnseenAppliedBefore++;
      }
    }
  } else {
    if (answer.result !== first.result) {
      run.evidence.failures.push(
        `${name} answered ${answer.result} on retry, ${first.result} the first time`,
      );
    }
    run.evidence.retriedSeenAnswers++;
    if (answer.leadership.leaderId !== first.leadership.leaderId) {
      run.evidence.retriedSeenAcrossLeaderIds++;
    }
    if (answer.leadership.term !== first.leadership.term) {
      run.evidence.retriedSeenAcrossTerms++;
    }
  }
  const client = request.client;
  if (run.hiding && client.hiddenThisRound < hiddenPerClientMax && run.random.chance(0.2)) {
    client.hiddenThisRound++;
    request.state = 'hidden';
  } else {
    request.state = 'answered';
  }
}

/**
 * Sends a request until the child answers it (retrying refusals such as NotLeader with the
 * same sequence); false when the child went away first.
 */
async function sendUntilAnswered(
  run: Run,
  child: ChildHandle,
  request: TrackedRequest,
): Promise<boolean> {
  for (;;) {
    checkDeadline(run, `sending ${request.payload}`);
    const answer = await child.request({
      type: 'propose',
      clientId: request.client.clientId,
      sequence: request.sequence,
      ackedBelow: ackedBelow(request.client),
      payload: request.payload,
    });
    if (answer === undefined) {
      return false;
    }
    if (answer.type !== 'refused') {
      recordAnswer(run, request, answer);
      return true;
    }
  }
}

async function registerClients(run: Run, child: ChildHandle): Promise<void> {
  for (const label of ['a', 'b']) {
    for (;;) {
      checkDeadline(run, `registering client ${label}`);
      run.registerAttempts++;
      const answer = await child.request({ type: 'register' });
      expect(answer, 'the child died while registering').toBeDefined();
      if (answer?.type === 'applied') {
        const { status, body } = decodeSessionResponse(Buffer.from(answer.result, 'base64'));
        expect(status).toBe(SessionStatus.ok);
        const clientId = new DataView(body.buffer, body.byteOffset, body.byteLength).getFloat64(0);
        run.clients.push({ label, clientId, nextSequence: 1, requests: [], hiddenThisRound: 0 });
        break;
      }
    }
  }
}

/** Retries every request without a final answer, concurrently, until all are answered. */
async function retryOpen(run: Run, child: ChildHandle): Promise<void> {
  const open = run.clients.flatMap((c) => c.requests.filter((r) => r.state !== 'answered'));
  const lane = async (): Promise<void> => {
    for (let next = open.shift(); next !== undefined; next = open.shift()) {
      expect(await sendUntilAnswered(run, child, next), 'the child died during retries').toBe(true);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

/** The next new request: from a client with room in its window, picked by the seeded source. */
function issueRequest(run: Run): TrackedRequest | undefined {
  const candidates = run.clients.filter((c) => c.nextSequence - ackedBelow(c) < windowSequences);
  if (candidates.length === 0) {
    return undefined;
  }
  const client = run.random.pick(candidates);
  const sequence = client.nextSequence++;
  const request: TrackedRequest = {
    client,
    sequence,
    payload: `${client.label}${sequence}`,
    state: 'unanswered',
    sentTo: run.incarnation,
    first: undefined,
  };
  client.requests.push(request);
  run.byPayload.set(request.payload, request);
  return request;
}

/** Keeps `lanes` new requests in flight until the kill point; returns where it killed. */
async function loadUntilKill(run: Run, child: ChildHandle, plan: KillPlan): Promise<string> {
  let answers = 0;
  let inFlight = 0;
  let issued = 0;
  let killedAt = '';
  const maybeKill = (): void => {
    if (
      plan.kind === 'acks' &&
      !child.gone &&
      answers >= plan.count &&
      inFlight >= plan.inFlightMin
    ) {
      killedAt = `after ${answers} answers with ${inFlight} in flight`;
      child.kill();
    }
  };
  const lane = async (): Promise<void> => {
    while (!child.gone && issued < newRequestsPerRoundMax) {
      const request = issueRequest(run);
      if (request === undefined) {
        return;
      }
      issued++;
      inFlight++;
      maybeKill();
      const answered = await sendUntilAnswered(run, child, request);
      if (!answered && killedAt === '') {
        killedAt = `child died after ${answers} answers with ${inFlight} in flight`;
      }
      inFlight--;
      if (answered) {
        answers++;
        maybeKill();
      }
    }
  };
  run.hiding = plan.kind === 'acks';
  try {
    await Promise.all(Array.from({ length: lanes }, lane));
  } finally {
    run.hiding = false;
  }
  if (!child.gone) {
    child.kill();
    return plan.kind === 'failpoint'
      ? `failpoint NOT reached: killed after ${answers} answers`
      : `load ran out: killed after ${answers} answers`;
  }
  return killedAt;
}

/** Checks the lists against what the clients were told. */
async function checkLists(run: Run, child: ChildHandle, final: boolean): Promise<void> {
  const answer = await child.request({ type: 'dump' });
  if (answer?.type !== 'dumped') {
    throw new Error(`Dump failed: ${JSON.stringify(answer)}`);
  }
  const [list = [], ...others] = answer.lists;
  for (const other of others) {
    expect(other, 'every node applied the same list').toEqual(list);
  }
  const positions = new Map<string, number>();
  list.forEach((payload, position) => {
    expect(positions.has(payload), `${payload} applied twice`).toBe(false);
    expect(run.byPayload.has(payload), `${payload} was never proposed`).toBe(true);
    positions.set(payload, position);
  });
  for (const request of run.byPayload.values()) {
    if (request.first === undefined) {
      expect(final, `${request.payload} still unanswered in the final check`).toBe(false);
      continue;
    }
    const { position } = appliedAt(request.first.result);
    expect(positions.get(request.payload), `${request.payload} answered at #${position}`).toBe(
      position,
    );
  }
  for (const count of answer.sessionCounts) {
    expect(count).toBeGreaterThanOrEqual(run.clients.length);
    expect(count).toBeLessThanOrEqual(run.registerAttempts);
  }
  if (final) {
    expect(list.length).toBe(run.byPayload.size);
  }
}

/** Makes sure the leader differs from the last incarnation's, so retries cross a leader change. */
async function changeLeader(run: Run, child: ChildHandle, leadership: Leadership): Promise<number> {
  if (run.layout === 'single' || leadership.leaderId !== run.lastLeaderId) {
    return leadership.leaderId;
  }
  for (;;) {
    checkDeadline(run, 'moving leadership');
    const answer = await child.request({
      type: 'transfer',
      to: pickOther(run.random, leadership.leaderId),
    });
    if (answer?.type === 'done') {
      return answer.leadership.leaderId;
    }
    expect(answer, 'the child died while moving leadership').toBeDefined();
  }
}

function launch(run: Run, failpoint: boolean): ChildHandle {
  run.incarnation++;
  run.deadlineMs = performance.now() + roundDeadlineMs;
  for (const client of run.clients) {
    client.hiddenThisRound = 0;
  }
  return new ChildHandle(run, failpoint);
}

/** Waits for a leader, moves it if needed, registers the clients once, retries the open requests. */
async function prepare(run: Run, child: ChildHandle): Promise<void> {
  const ready = await withDeadline(child.ready, startDeadlineMs, 'the child to elect');
  run.commitAtOpen = ready.commitAtOpen;
  if (ready.snapshotAtOpen > 0) {
    run.evidence.restartsFromSnapshot++;
  }
  run.lastLeaderId = await changeLeader(run, child, ready.leadership);
  run.evidence.leaders.push(run.lastLeaderId);
  if (run.clients.length === 0) {
    await registerClients(run, child);
  }
  await retryOpen(run, child);
}

/** Runs body against one incarnation; a failure carries the child's stderr; the child dies. */
async function withChild(
  run: Run,
  failpoint: boolean,
  body: (child: ChildHandle) => Promise<void>,
): Promise<void> {
  const child = launch(run, failpoint);
  try {
    await prepare(run, child);
    await body(child);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\nChild stderr:\n${child.stderr}`, { cause: error });
  } finally {
    child.kill();
  }
  expect(run.evidence.failures).toEqual([]);
}

function planKill(run: Run, kind: RoundKind): KillPlan {
  return kind === 'acks'
    ? { kind, count: 1 + run.random.int(40), inFlightMin: 1 + run.random.int(lanes - 1) }
    : { kind, count: 1 + run.random.int(run.layout === 'single' ? 8 : 24), inFlightMin: 0 };
}

async function runRound(run: Run, kind: RoundKind): Promise<void> {
  await withChild(run, kind === 'failpoint', async (child) => {
    await checkLists(run, child, false);
    const plan = planKill(run, kind);
    if (plan.kind === 'failpoint') {
      const armed = await child.request({ type: 'arm', syncedPersists: plan.count });
      expect(armed?.type, JSON.stringify(armed)).toBe('done');
    }
    const killedAt = await loadUntilKill(run, child, plan);
    const exit = await withDeadline(child.exited, exitDeadlineMs, 'the child to exit');
    expect(exit.signal, killedAt).toBe('SIGKILL');
    expect(killedAt).not.toMatch(/NOT reached|ran out/);
    if (plan.kind === 'failpoint') {
      // The child names the window it died in: committed entries durable but unapplied.
      const window = /failpoint \S+: sync \w+ commit (\d+) applied (\d+)/.exec(child.stderr);
      expect(window).not.toBeNull();
      run.evidence.kills.push(
        `${killedAt}: ${plan.count} synced persists, then ${window?.[0] ?? ''}`,
      );
    } else {
      run.evidence.kills.push(killedAt);
    }
  });
}

async function runFinal(run: Run): Promise<void> {
  await withChild(run, false, async (child) => {
    await checkLists(run, child, true);
    const stopped = await child.request({ type: 'stop' });
    expect(stopped?.type).toBe('done');
    child.process.disconnect();
    const exit = await withDeadline(child.exited, exitDeadlineMs, 'the child to exit');
    expect(exit).toEqual({ code: 0, signal: null });
  });
}

/** The seeded order of round kinds: half killed by answer counts, half at the failpoint. */
function roundKinds(random: SeededRandom): RoundKind[] {
  const kinds: RoundKind[] = Array.from({ length: roundsPerLayout }, (_, i) =>
    i % 2 === 0 ? 'acks' : 'failpoint',
  );
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [kinds[i], kinds[j]] = [kinds[j] as RoundKind, kinds[i] as RoundKind];
  }
  return kinds;
}

const tmpDirs: string[] = [];

afterEach(() => {
  for (const dir of tmpDirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function crashRun(layout: ClusterLayout, seed: number): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), `coffer-raft-crash-${layout}-`));
  tmpDirs.push(dataDir);
  const run: Run = {
    layout,
    dataDir,
    random: new SeededRandom(seed),
    clients: [],
    byPayload: new Map(),
    evidence: {
      retriedSeenAnswers: 0,
      retriedSeenAcrossLeaderIds: 0,
      retriedSeenAcrossTerms: 0,
      retriedUnseenAnswers: 0,
      retriedUnseenAppliedBefore: 0,
      restartsFromSnapshot: 0,
      kills: [],
      leaders: [],
      failures: [],
    },
    registerAttempts: 0,
    incarnation: 0,
    hiding: false,
    commitAtOpen: 0,
    lastLeaderId: 0,
    deadlineMs: 0,
  };
  for (const kind of roundKinds(run.random)) {
    await runRound(run, kind);
  }
  await runFinal(run);
  return run;
}

describe('RaftNode on LevelLogStore across SIGKILL', () => {
  it('RaftNode keeps every acknowledged proposal once when one voter is killed at seeded points', async () => {
    const { evidence } = await crashRun('single', 0xc0ffe1);
    const said = JSON.stringify(evidence);
    expect(evidence.retriedSeenAnswers, said).toBeGreaterThan(0);
    expect(evidence.retriedSeenAcrossTerms, said).toBe(evidence.retriedSeenAnswers);
    expect(evidence.retriedUnseenAppliedBefore, said).toBeGreaterThan(0);
    expect(evidence.restartsFromSnapshot, said).toBeGreaterThan(0);
  }, 60_000);

  it('RaftNode keeps every acknowledged proposal once when three voters die together', async () => {
    const { evidence } = await crashRun('trio', 0xc0ffe3);
    const said = JSON.stringify(evidence);
    expect(evidence.retriedSeenAnswers, said).toBeGreaterThan(0);
    expect(evidence.retriedSeenAcrossLeaderIds, said).toBeGreaterThan(0);
    expect(evidence.retriedSeenAcrossTerms, said).toBe(evidence.retriedSeenAnswers);
    expect(evidence.retriedUnseenAppliedBefore, said).toBeGreaterThan(0);
    expect(evidence.restartsFromSnapshot, said).toBeGreaterThan(0);
  }, 60_000);
});
