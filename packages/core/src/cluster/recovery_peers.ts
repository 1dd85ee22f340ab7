/**
 * The peers file of `coffer operator raft recover` (docs/design/cluster.md §7): the members a
 * cluster that lost quorum for good is forced to, in the shape of Vault's peers.json:
 *
 *   [{ "id": 1, "address": "10.0.0.1:8201", "non_voter": false }, ...]
 *
 * `id` is the member's node_id (Coffer's Raft names members by number, not by string);
 * `address` is optional and only checked for form: Coffer reaches a member at the address in
 * its replicated member record, which recovery keeps; `non_voter` (default false) keeps the
 * member as a learner.
 *
 * Every problem is reported at once, each naming its field and what is expected
 * (COFFER_CORE_PEERS_INVALID), and nothing is written when there is one.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';

/** One member of the forced configuration. */
export interface RecoveryPeer {
  readonly id: number;
  /** host:port as the file gave it; informational (see the file comment). */
  readonly address: string | undefined;
  readonly nonVoter: boolean;
}

/** The largest peers file read, in bytes. */
export const peersFileBytesMax = 64 * 1024;
/** The most peers a file may list. */
export const peersCountMax = 64;

const knownFields = new Set(['id', 'address', 'non_voter']);

function shown(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  const safe = text ?? String(value);
  return safe.length > 40 ? `${safe.slice(0, 40)}…` : safe;
}

function addressProblem(address: string): string | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  const port = Number(match?.[2]);
  return match === null || port < 1 || port > 65_535
    ? `expected "host:port" with a port in 1..65535, got ${shown(address)}`
    : undefined;
}

function parsePeer(raw: unknown, at: string, problems: string[]): RecoveryPeer | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${at}: expected an object {id, address?, non_voter?}, got ${shown(raw)}`);
    return undefined;
  }
  const fields = raw as Record<string, unknown>;
  for (const name of Object.keys(fields).filter((n) => !knownFields.has(n))) {
    problems.push(`${at}.${name}: unknown field; expected only id, address and non_voter`);
  }
  const { id, address, non_voter: nonVoter } = fields;
  const before = problems.length;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    problems.push(`${at}.id: expected an integer ≥ 1 (the member's node_id), got ${shown(id)}`);
  }
  if (address !== undefined) {
    const problem = typeof address === 'string' ? addressProblem(address) : undefined;
    if (typeof address !== 'string' || problem !== undefined) {
      problems.push(
        `${at}.address: ${problem ?? `expected a "host:port" string, got ${shown(address)}`}`,
      );
    }
  }
  if (nonVoter !== undefined && typeof nonVoter !== 'boolean') {
    problems.push(`${at}.non_voter: expected true or false, got ${shown(nonVoter)}`);
  }
  return problems.length > before || Object.keys(fields).some((n) => !knownFields.has(n))
    ? undefined
    : { id: id as number, address: address as string | undefined, nonVoter: nonVoter === true };
}

function peersInvalid(problems: readonly string[]): CoreError {
  return new CoreError(
    CoreErrorCode.peersInvalid,
    `Fix the peers file; nothing was changed: ${problems.join('; ')}`,
  );
}

function listProblems(peers: readonly RecoveryPeer[], nodeId: number): string[] {
  const problems: string[] = [];
  const seen = new Map<number, number>();
  peers.forEach((peer, i) => {
    const first = seen.get(peer.id);
    if (first !== undefined) {
      problems.push(
        `peers[${i}].id: duplicate of peers[${first}] (id ${peer.id}); list each member once`,
      );
    }
    seen.set(peer.id, first ?? i);
  });
  if (!seen.has(nodeId)) {
    problems.push(
      `peers: expected this node's own id ${nodeId} (node_id in its config): recover each listed node, and only those, with this file`,
    );
  }
  if (peers.every((peer) => peer.nonVoter)) {
    problems.push('peers: expected at least one voter (non_voter false or absent), got none');
  }
  return problems;
}

/**
 * Parses and validates the text of a peers file for node `nodeId`; throws
 * COFFER_CORE_PEERS_INVALID naming every problem.
 */
export function parseRecoveryPeers(text: string, nodeId: number): RecoveryPeer[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CoreError(
      CoreErrorCode.peersInvalid,
      `Fix the peers file; nothing was changed: peers: expected JSON, a list of {id, address?, non_voter?} (${error instanceof Error ? error.message : 'unparsable'})`,
      { cause: error },
    );
  }
  if (!Array.isArray(document)) {
    throw peersInvalid([
      `peers: expected a list of {id, address?, non_voter?}, got ${shown(document)}`,
    ]);
  }
  if (document.length === 0) {
    throw peersInvalid(['peers: expected at least one peer, got an empty list']);
  }
  if (document.length > peersCountMax) {
    throw peersInvalid([`peers: expected at most ${peersCountMax} peers, got ${document.length}`]);
  }
  const problems: string[] = [];
  const peers = (document as unknown[]).map((raw, i) => parsePeer(raw, `peers[${i}]`, problems));
  if (problems.length > 0) {
    throw peersInvalid(problems);
  }
  const valid = peers.filter((peer) => peer !== undefined);
  const listed = listProblems(valid, nodeId);
  if (listed.length > 0) {
    throw peersInvalid(listed);
  }
  return valid;
}

/**
 * Checks that every peer is a member of the configuration the log ends with (recovery keeps
 * members; it cannot add one, which has no data and no member record); throws
 * COFFER_CORE_PEERS_INVALID naming each stranger.
 */
export function checkPeersAreMembers(
  peers: readonly RecoveryPeer[],
  members: { readonly voters: readonly number[]; readonly learners: readonly number[] },
): void {
  const known = new Set([...members.voters, ...members.learners]);
  const list = (ids: readonly number[]) => (ids.length === 0 ? 'none' : ids.join(', '));
  const problems = peers.flatMap((peer, i) =>
    known.has(peer.id)
      ? []
      : [
          `peers[${i}].id: node ${peer.id} is not a member of this node's configuration (voters ${list(members.voters)}; learners ${list(members.learners)}); recovery keeps members and cannot add one: join it after recovery`,
        ],
  );
  if (problems.length > 0) {
    throw peersInvalid(problems);
  }
}
