/**
 * Goal: parseRecoveryPeers accepts Vault-shaped peers files that map to Coffer's Raft
 * configuration and refuses everything else with COFFER_CORE_PEERS_INVALID, naming every
 * field at fault and what it expects; checkPeersAreMembers refuses a node that is no member.
 * Method: table of valid and invalid documents (negative space, STYLE.md 8.6); pure, no I/O.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { checkPeersAreMembers, parseRecoveryPeers } from './recovery_peers.ts';

function refusal(text: string, nodeId = 1): string {
  try {
    parseRecoveryPeers(text, nodeId);
  } catch (error) {
    expect((error as { code?: unknown }).code).toBe(CoreErrorCode.peersInvalid);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('parseRecoveryPeers', () => {
  it('parseRecoveryPeers accepts ids, optional addresses and non_voter flags', () => {
    const text = JSON.stringify([
      { id: 1, address: '10.0.0.1:8201' },
      { id: 2, non_voter: true },
      { id: 3, address: '[::1]:8201', non_voter: false },
    ]);
    expect(parseRecoveryPeers(text, 1)).toEqual([
      { id: 1, address: '10.0.0.1:8201', nonVoter: false },
      { id: 2, address: undefined, nonVoter: true },
      { id: 3, address: '[::1]:8201', nonVoter: false },
    ]);
  });

  it.each([
    ['not JSON', '[{id: 1}', 'peers: expected JSON'],
    ['an object', '{"id": 1}', 'peers: expected a list of {id, address?, non_voter?}'],
    ['an empty list', '[]', 'peers: expected at least one peer, got an empty list'],
    ['a string id', '[{"id": "node1"}]', 'peers[0].id: expected an integer ≥ 1'],
    ['a zero id', '[{"id": 0}]', 'peers[0].id: expected an integer ≥ 1'],
    ['a fractional id', '[{"id": 1.5}]', 'peers[0].id: expected an integer ≥ 1'],
    ['a missing id', '[{"address": "a:1"}]', 'peers[0].id: expected an integer ≥ 1'],
    ['a bad address', '[{"id": 1, "address": "nohost"}]', 'peers[0].address: expected "host:port"'],
    ['a port out of range', '[{"id": 1, "address": "h:70000"}]', 'peers[0].address'],
    [
      'a numeric address',
      '[{"id": 1, "address": 8201}]',
      'peers[0].address: expected a "host:port" string',
    ],
    [
      'a bad non_voter',
      '[{"id": 1, "non_voter": "yes"}]',
      'peers[0].non_voter: expected true or false',
    ],
    ['an unknown field', '[{"id": 1, "suffrage": "voter"}]', 'peers[0].suffrage: unknown field'],
    ['a non-object peer', '[1]', 'peers[0]: expected an object'],
    [
      'a duplicate',
      '[{"id": 1}, {"id": 2}, {"id": 1}]',
      'peers[2].id: duplicate of peers[0] (id 1)',
    ],
    ['no own id', '[{"id": 2}]', "peers: expected this node's own id 1"],
    ['no voter', '[{"id": 1, "non_voter": true}]', 'peers: expected at least one voter'],
  ])('parseRecoveryPeers refuses %s', (_, text, expected) => {
    expect(refusal(text)).toContain(expected);
  });

  it('parseRecoveryPeers names every problem at once', () => {
    const message = refusal('[{"id": "x"}, {"id": 1, "address": "bad", "non_voter": 1}]');
    expect(message).toContain('peers[0].id');
    expect(message).toContain('peers[1].address');
    expect(message).toContain('peers[1].non_voter');
  });

  it('parseRecoveryPeers refuses more than the peer limit', () => {
    const many = JSON.stringify(Array.from({ length: 65 }, (_, i) => ({ id: i + 1 })));
    expect(refusal(many)).toContain('expected at most 64 peers');
  });
});

describe('checkPeersAreMembers', () => {
  it('checkPeersAreMembers refuses a node that is not in the configuration', () => {
    const peers = parseRecoveryPeers('[{"id": 1}, {"id": 7}]', 1);
    expect(() => {
      checkPeersAreMembers(peers, { voters: [1, 2, 3], learners: [] });
    }).toThrow(/peers\[1\]\.id: node 7 is not a member .*voters 1, 2, 3; learners none/);
    expect(() => {
      checkPeersAreMembers(peers, { voters: [1, 2], learners: [7] });
    }).not.toThrow();
  });
});
