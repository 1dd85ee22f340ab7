/**
 * RequestOutcomes: exactly-once requests across failovers (Raft thesis §6.3, at the level of
 * whole requests). A client that loses its node mid-request resends the request, with the same
 * request id, to another node; the new active node must answer it without running it twice, and
 * with the same response when that response holds a new secret (a token, a secret_id).
 *
 * So a request's writes are staged while it runs (staged_writes.ts) and committed in ONE
 * transaction together with its response, under a key that hashes who sent what under which id
 * (the barrier's identifier HMAC: no request id, body or token shows in a storage key). The
 * transaction requires that key to be absent, so of two attempts of a request only one commits;
 * a later attempt finds the committed response and answers it (the router looks before it
 * spends a token use). Responses are stored barrier-encrypted, like every value, and kept for
 * {@link outcomeRetentionMs}: long enough for any client retry, short enough that a stored
 * response is not a second home for the secrets it holds. The active node deletes expired ones
 * (an expiry index beside them).
 *
 * A request that wrote nothing records nothing; a request that failed commits what it staged
 * (as it would have written it) and no outcome, so its retry runs again, as before.
 */
import type { DriverClock } from '@coffer/raft/node';

import type { Barrier } from '../barrier/barrier.ts';
import { IdentifierPurpose } from '../barrier/key_derivation.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { CoreSuccess } from '../router/request.ts';
import type { OnceRequest, RouterOutcomes } from '../router/router_ports.ts';
import type { SecureStore } from './secure_store.ts';
import { StagedWrites } from './staged_writes.ts';

/** Where outcomes are kept (raw state paths), and their expiry index. */
export const outcomesPrefix = 'core/request-outcomes/';
export const outcomeExpiryPrefix = 'core/request-outcome-expiry/';

/** How long a committed response answers retries: 5 minutes. */
export const outcomeRetentionMs = 5 * 60_000;

/** How often the active node deletes expired outcomes, and how many per write. */
const tidyIntervalMs = 60_000;
const tidyBatchKeys = 256;

/** Attempts of a request whose commit lost to concurrent writes before it is refused. */
export const onceRoundsMax = 8;

const storedOutcomeVersion = 1;

interface StoredOutcome {
  readonly version: typeof storedOutcomeVersion;
  readonly expireMs: number;
  readonly response: CoreSuccess;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const empty = new Uint8Array(0);

/** What a RequestOutcomes works with. */
export interface RequestOutcomesOptions {
  readonly secure: SecureStore;
  readonly barrier: Barrier;
  /** Timers of the tidy loop. */
  readonly clock: DriverClock;
  /** Wall-clock ms since the epoch: what has expired. */
  readonly wallClockMs: () => number;
  readonly logger?: {
    warn(event: string, fields: Readonly<Record<string, string | number>>): void;
  };
}

/** The committed outcomes of write requests, for their retries. */
export class RequestOutcomes implements RouterOutcomes {
  readonly #o: RequestOutcomesOptions;
  #timer: { cancel(): void } | undefined;
  #tidying: Promise<void> | undefined;

  constructor(options: RequestOutcomesOptions) {
    this.#o = options;
  }

  keyOf(request: OnceRequest): string {
    const identity = JSON.stringify([
      request.requestId,
      request.tokenKey ?? '',
      request.operation,
      request.path,
      request.data ?? {},
    ]);
    return (
      outcomesPrefix + this.#o.barrier.hmacIdentifier(IdentifierPurpose.requestOutcome, identity)
    );
  }

  find(key: string): Promise<CoreSuccess | undefined> {
    const stored = this.#o.secure.getLocal(key);
    if (stored === undefined) {
      return Promise.resolve(undefined);
    }
    // NB: written by this code and authenticated by the barrier; only its version is checked.
    const outcome = JSON.parse(decoder.decode(stored.value)) as {
      readonly version: number;
      readonly response: CoreSuccess;
    };
    return Promise.resolve(outcome.version === storedOutcomeVersion ? outcome.response : undefined);
  }

  async once(
    key: string,
    nowMs: number,
    attempt: () => Promise<CoreSuccess>,
  ): Promise<CoreSuccess> {
    for (let round = 1; ; round++) {
      const staged = new StagedWrites();
      let response: CoreSuccess;
      try {
        response = await staged.run(attempt);
      } catch (error) {
        staged.close();
        await this.#commitFailed(staged);
        throw error;
      }
      staged.close();
      if (staged.isEmpty || staged.wroteThrough) {
        staged.committed();
        return response;
      }
      const { conditions, operations } = staged.transaction();
      const expireMs = nowMs + outcomeRetentionMs;
      const record: StoredOutcome = { version: storedOutcomeVersion, expireMs, response };
      const committed = await this.#o.secure.write({
        conditions: [...conditions, { kind: 'absent', key }],
        operations: [
          ...operations,
          { kind: 'put', key, value: encoder.encode(JSON.stringify(record)) },
          { kind: 'put', key: expiryKey(expireMs, key), value: empty },
        ],
      });
      if (committed.ok) {
        staged.committed();
        return response;
      }
      if (committed.key === key) {
        // NB: another attempt of this request committed first: its answer is the answer.
        const earlier = await this.find(key);
        if (earlier !== undefined) {
          return earlier;
        }
      }
      if (round >= onceRoundsMax) {
        throw new CoreError(
          CoreErrorCode.writeRefused,
          `Retry the request: concurrent requests changed what it read ${onceRoundsMax} times in a row`,
        );
      }
    }
  }

  /** Starts deleting expired outcomes (the active node only). */
  start(): void {
    this.#schedule();
  }

  /** Stops the tidy loop and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#tidying;
  }

  /** Deletes every outcome expired by now; resolves with how many. */
  async tidy(): Promise<number> {
    const nowMs = this.#o.wallClockMs();
    let deleted = 0;
    for (;;) {
      const page = await this.#o.secure.listLocal(outcomeExpiryPrefix, { limit: tidyBatchKeys });
      const due = page.keys.filter((k) => expiryOf(k) <= nowMs);
      if (due.length === 0) {
        return deleted;
      }
      await this.#o.secure.write({
        conditions: [],
        operations: due.flatMap((index) => [
          { kind: 'delete' as const, key: index },
          {
            kind: 'delete' as const,
            key: outcomesPrefix + index.slice(index.lastIndexOf('/') + 1),
          },
        ]),
      });
      deleted += due.length;
      if (due.length < page.keys.length || page.cursor === undefined) {
        return deleted;
      }
    }
  }

  #schedule(): void {
    this.#timer?.cancel();
    this.#timer = this.#o.clock.setTimer(tidyIntervalMs, () => {
      // NB: outside any request, so the deletes are never staged into one.
      this.#tidying = StagedWrites.outside(() => this.tidy())
        .then(
          () => undefined,
          (error: unknown) => {
            this.#o.logger?.warn('request_outcome_tidy_failed', {
              code: error instanceof CoreError ? error.code : 'unexpected',
            });
          },
        )
        .finally(() => {
          this.#tidying = undefined;
          if (this.#timer !== undefined) {
            this.#schedule();
          }
        });
    });
  }

  /** A failed request's staged writes go through as it made them (no outcome: a retry runs). */
  async #commitFailed(staged: StagedWrites): Promise<void> {
    if (staged.isEmpty || staged.wroteThrough) {
      staged.committed();
      return;
    }
    const outcome = await this.#o.secure.write(staged.transaction());
    if (outcome.ok) {
      staged.committed();
    } else {
      // NB: the request failed anyway; what it wrote lost to a concurrent request, as a write
      // of a failing request can. Nothing half-applied: the transaction is all or nothing.
      this.#o.logger?.warn('failed_request_writes_dropped', { reason: 'concurrent_change' });
    }
  }
}

/** The expiry index key of an outcome: `<expireMs, 15 digits>/<its hash>`. */
function expiryKey(expireMs: number, key: string): string {
  return `${outcomeExpiryPrefix}${String(expireMs).padStart(15, '0')}/${key.slice(outcomesPrefix.length)}`;
}

function expiryOf(indexKey: string): number {
  return Number(indexKey.slice(outcomeExpiryPrefix.length, indexKey.lastIndexOf('/')));
}
