/**
 * Exactly-once client sessions inside the state (Raft thesis §6.3), planned with the rest of a
 * batch: a client registers once (its id is the index of the register entry) and numbers its
 * requests; its session record keeps the encoded result of every request it has not
 * acknowledged, so a request retried after a timeout or a leader change, in the same batch or
 * any later one, returns the original result and is applied once.
 *
 * Time is the leader's stamp in each session entry: the session clock is the largest stamp
 * seen, stored in the session meta record, so every replica expires the same sessions at the
 * same entry. A session unused for longer than sessionTtlMs expires lazily when its client
 * returns, and at each session entry a sweep drops up to sweepSessionsMax expired sessions
 * from the oldest end of the expiry list (session_record.ts). Nothing here reads a clock or
 * draws a random number, and the work is per entry, never per batch, so every batch split
 * gives the same state.
 *
 * Invariant: for a live session, a sequence number is applied at most once; a refused request
 * (session expired, response discarded, too many outstanding) applies nothing.
 */
import { StorageErrorCode } from '../errors.ts';
import { decodeApplyResult, encodeApplyResult, sessionRefusal } from './apply_result.ts';
import type { ApplyResult } from './apply_result.ts';
import type { SessionRequest } from './session_envelope.ts';
import {
  decodeSessionMeta,
  decodeSessionRecord,
  emptySessionMeta,
  encodeSessionMeta,
  encodeSessionRecord,
  type SessionMeta,
  type SessionRecord,
} from './session_record.ts';
import type { StateCommand } from './state_command.ts';
import { sessionKey, sessionMetaKey } from './state_keys.ts';
import { corruptStateRecord } from './state_record.ts';

/**
 * Limits of the session table. NB: replicated behaviour: every member of a cluster must use
 * the same limits, or replicas diverge.
 */
export interface SessionLimits {
  /** A session unused for longer than this (by entry stamps) expires. */
  readonly sessionTtlMs: number;
  /** Unacknowledged responses kept per client; a request beyond them is refused. */
  readonly responsesPerClientMax: number;
  /** Expired sessions dropped at most per session entry, oldest first. */
  readonly sweepSessionsMax: number;
}

/** The limits unless configured: one hour, 64 responses, 16 sessions per sweep. */
export const sessionLimitsDefault: SessionLimits = {
  sessionTtlMs: 60 * 60 * 1000,
  responsesPerClientMax: 64,
  sweepSessionsMax: 16,
};

/** Reads a stored record's raw bytes by LevelDB key. */
export type RawReader = (dbKey: Uint8Array) => Uint8Array | undefined;

/** A record the batch writes: its LevelDB key and bytes (undefined: deleted). */
export interface RawWrite {
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/** The session table as one batch sees it: stored records under the batch's changes. */
export class SessionTable {
  readonly #read: RawReader;
  readonly #location: string;
  readonly #limits: SessionLimits;
  #meta: SessionMeta | undefined;
  readonly #records = new Map<number, SessionRecord | undefined>();
  readonly #written = new Set<number>();

  constructor(read: RawReader, options: { location: string; limits: SessionLimits }) {
    this.#read = read;
    this.#location = options.location;
    this.#limits = options.limits;
  }

  /** Registers a client at entry index; its id is index. */
  register(index: number, stampMs: number): ApplyResult {
    const meta = this.#advance(stampMs);
    const record = { lastStampMs: meta.clockMs, ackedBelow: 0, older: 0, newer: 0 };
    this.#records.set(index, { ...record, responses: new Map() });
    this.#written.add(index);
    this.#append(index, this.#must(index));
    meta.count++;
    return { ok: true, outcome: 'registered', clientId: index };
  }

  /** Answers a request: from the session record, by a refusal, or by applying its command. */
  request(request: SessionRequest, apply: (command: StateCommand) => ApplyResult): ApplyResult {
    const meta = this.#advance(request.stampMs);
    const { clientId, sequence } = request;
    const record = this.#get(clientId);
    if (record === undefined || this.#expired(record)) {
      if (record !== undefined) {
        this.#remove(clientId, record);
      }
      return sessionRefusal(StorageErrorCode.sessionExpired, request);
    }
    record.lastStampMs = meta.clockMs;
    if (meta.newest !== clientId) {
      this.#unlink(record);
      this.#append(clientId, record);
    }
    this.#written.add(clientId);
    if (request.ackedBelow > record.ackedBelow) {
      record.ackedBelow = request.ackedBelow;
      for (const acked of [...record.responses.keys()].filter((s) => s < request.ackedBelow)) {
        record.responses.delete(acked);
      }
    }
    const cached = record.responses.get(sequence);
    if (cached !== undefined) {
      return this.#repeat(clientId, cached);
    }
    if (sequence < record.ackedBelow) {
      return sessionRefusal(StorageErrorCode.responseDiscarded, request);
    }
    if (record.responses.size >= this.#limits.responsesPerClientMax) {
      return sessionRefusal(StorageErrorCode.tooManyOutstanding, request);
    }
    const result = apply(request.command);
    record.responses.set(sequence, encodeApplyResult(result));
    return result;
  }

  /** The records the batch wrote, with the meta record when a session entry was applied. */
  writes(): RawWrite[] {
    if (this.#meta === undefined) {
      return [];
    }
    const writes: RawWrite[] = [];
    for (const clientId of [...this.#written].sort((a, b) => a - b)) {
      const key = sessionKey(clientId);
      const record = this.#records.get(clientId);
      writes.push({ key, value: record && encodeSessionRecord(key, record) });
    }
    writes.push({ key: sessionMetaKey, value: encodeSessionMeta(sessionMetaKey, this.#meta) });
    return writes;
  }

  /** Moves the clock to stampMs if later, then sweeps expired sessions from the oldest end. */
  #advance(stampMs: number): SessionMeta {
    const meta = this.#loadMeta();
    meta.clockMs = Math.max(meta.clockMs, stampMs);
    for (let swept = 0; swept < this.#limits.sweepSessionsMax && meta.oldest !== 0; swept++) {
      const oldest = this.#must(meta.oldest);
      if (!this.#expired(oldest)) {
        break;
      }
      this.#remove(meta.oldest, oldest);
    }
    return meta;
  }

  #expired(record: SessionRecord): boolean {
    return record.lastStampMs < this.#loadMeta().clockMs - this.#limits.sessionTtlMs;
  }

  /** A cached result, marked as repeated when it was a success. */
  #repeat(clientId: number, cached: Uint8Array): ApplyResult {
    const result = decodeApplyResult(cached);
    if (result === undefined) {
      const key = sessionKey(clientId);
      throw corruptStateRecord(key, this.#location, 'a response in it does not decode');
    }
    return result.ok && result.outcome !== 'registered' ? { ...result, repeated: true } : result;
  }

  #remove(clientId: number, record: SessionRecord): void {
    this.#unlink(record);
    this.#records.set(clientId, undefined);
    this.#written.add(clientId);
    this.#loadMeta().count--;
  }

  /** Takes record out of the expiry list, relinking its neighbours. */
  #unlink(record: SessionRecord): void {
    const meta = this.#loadMeta();
    if (record.older === 0) {
      meta.oldest = record.newer;
    } else {
      this.#must(record.older).newer = record.newer;
      this.#written.add(record.older);
    }
    if (record.newer === 0) {
      meta.newest = record.older;
    } else {
      this.#must(record.newer).older = record.older;
      this.#written.add(record.newer);
    }
    record.older = 0;
    record.newer = 0;
  }

  /** Puts record at the newest end of the expiry list. */
  #append(clientId: number, record: SessionRecord): void {
    const meta = this.#loadMeta();
    record.older = meta.newest;
    record.newer = 0;
    if (meta.newest === 0) {
      meta.oldest = clientId;
    } else {
      this.#must(meta.newest).newer = clientId;
      this.#written.add(meta.newest);
    }
    meta.newest = clientId;
  }

  #loadMeta(): SessionMeta {
    if (this.#meta === undefined) {
      const bytes = this.#read(sessionMetaKey);
      this.#meta =
        bytes === undefined
          ? emptySessionMeta()
          : decodeSessionMeta(sessionMetaKey, bytes, this.#location);
    }
    return this.#meta;
  }

  #get(clientId: number): SessionRecord | undefined {
    if (!this.#records.has(clientId)) {
      const key = sessionKey(clientId);
      const bytes = this.#read(key);
      const record = bytes && decodeSessionRecord(key, bytes, this.#location);
      this.#records.set(clientId, record);
    }
    return this.#records.get(clientId);
  }

  /** A session the expiry list links to: missing means the stored list is damaged. */
  #must(clientId: number): SessionRecord {
    const record = this.#get(clientId);
    if (record === undefined) {
      const problem = 'the session expiry list links to it but it is missing';
      throw corruptStateRecord(sessionKey(clientId), this.#location, problem);
    }
    return record;
  }
}
