/**
 * The rules a keyring change must keep to be applied. Every replica checks them against its own
 * current keyring when it applies the change from the log, so every replica reaches the same
 * verdict: the check depends only on the replicated keyring, the change and the replicated
 * stored values (through `isTermReferenced`), never on local state or time.
 */
import { CoreErrorCode } from '../errors.ts';
import type { KeyringContents, KeyTerm } from './keyring.ts';

/** The codes a refused keyring change carries. */
export type KeyringChangeRefusalCode =
  | typeof CoreErrorCode.keyringChangeStale
  | typeof CoreErrorCode.keyringChangeInvalid
  | typeof CoreErrorCode.barrierTermInUse;

/**
 * What applying a keyring change did. A refusal changes nothing and is the same on every
 * replica; the proposer may prepare the change again on the current keyring.
 */
export type KeyringChangeOutcome =
  | {
      readonly applied: true;
      /** The keyring generation now in force. */
      readonly generation: number;
      /** The active term now in force. */
      readonly activeTerm: number;
      /** Terms this change removed; values under them can no longer be decrypted. */
      readonly droppedTerms: readonly number[];
    }
  | {
      readonly applied: false;
      /** Why: stale generation, a broken rule, or a dropped term still referenced. */
      readonly code: KeyringChangeRefusalCode;
      /** A sentence for the log; holds no key material. */
      readonly reason: string;
    };

/**
 * Answers whether stored values still reference a term, from the replicated state at the point
 * of the log where the change applies (for example a per-term count kept by the state machine).
 */
export type TermReferencedPredicate = (term: number) => boolean;

/**
 * Checks that `next` may follow `current`: the generation is the next one, the identifier key
 * and every kept term's key and install time are unchanged, counts never decrease, at most one
 * new term is added and it is `current.activeTerm + 1` and active, and a removed term is neither
 * active nor referenced. Without a predicate every term counts as referenced.
 */
export function checkKeyringTransition(
  current: KeyringContents,
  next: KeyringContents,
  isTermReferenced: TermReferencedPredicate = () => true,
): KeyringChangeOutcome {
  if (next.generation !== current.generation + 1) {
    return refuse(
      CoreErrorCode.keyringChangeStale,
      `the change makes generation ${next.generation} but the keyring is at ${current.generation}`,
    );
  }
  if (!next.identifierKey.equals(current.identifierKey)) {
    return refuse(CoreErrorCode.keyringChangeInvalid, 'the change replaces the identifier key');
  }
  const nextByTerm = new Map(next.terms.map((entry) => [entry.term, entry]));
  const droppedTerms: number[] = [];
  for (const entry of current.terms) {
    const kept = nextByTerm.get(entry.term);
    const problem = kept === undefined ? undefined : checkKeptTerm(entry, kept);
    if (problem !== undefined) {
      return refuse(CoreErrorCode.keyringChangeInvalid, problem);
    }
    if (kept === undefined) {
      droppedTerms.push(entry.term);
    }
    nextByTerm.delete(entry.term);
  }
  const added = [...nextByTerm.keys()];
  const expectedActive = added.length === 0 ? current.activeTerm : current.activeTerm + 1;
  if (added.length > 1 || (added.length === 1 && added[0] !== expectedActive)) {
    return refuse(CoreErrorCode.keyringChangeInvalid, 'the change adds a term out of sequence');
  }
  if (next.activeTerm !== expectedActive) {
    return refuse(CoreErrorCode.keyringChangeInvalid, 'the change moves the active term');
  }
  const refusal = checkDrops(current.activeTerm, droppedTerms, isTermReferenced);
  if (refusal !== undefined) {
    return refusal;
  }
  return { applied: true, generation: next.generation, activeTerm: next.activeTerm, droppedTerms };
}

function checkKeptTerm(current: KeyTerm, kept: KeyTerm): string | undefined {
  if (!kept.key.equals(current.key) || kept.installTimeMs !== current.installTimeMs) {
    return `the change replaces the key of term ${current.term}`;
  }
  if (kept.encryptions < current.encryptions) {
    return `the change lowers the encryption count of term ${current.term}`;
  }
  return undefined;
}

function checkDrops(
  activeTerm: number,
  droppedTerms: readonly number[],
  isTermReferenced: TermReferencedPredicate,
): KeyringChangeOutcome | undefined {
  for (const term of droppedTerms) {
    if (term === activeTerm) {
      return refuse(CoreErrorCode.barrierTermInUse, `the change drops active term ${term}`);
    }
    if (isTermReferenced(term)) {
      return refuse(
        CoreErrorCode.barrierTermInUse,
        `the change drops term ${term}, which stored values still reference`,
      );
    }
  }
  return undefined;
}

function refuse(code: KeyringChangeRefusalCode, reason: string): KeyringChangeOutcome {
  return { applied: false, code, reason };
}
