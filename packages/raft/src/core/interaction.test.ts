// Goal: the Raft core's behaviour in whole scenarios, step by step, as golden traces: elections,
// replication, log repair, membership changes, snapshots, transfers, reads and the
// PreVote/CheckQuorum interplay (Raft paper §5-§8, thesis §3-§6, §9.6).
// Method: each packages/raft/testdata/*.txt script drives an InteractionEnv (real RawNodes,
// MemoryStorage, a message queue under the script's control) through the datadriven runner.
// Every Ready, message and log event is printed, and the rendered script must equal the file.
// REWRITE=1 rewrites the expectations; a rewrite is committed only if its diff is explained.
// Reference: Raft §5.2, §5.3, §5.4, §6, §7, §8; thesis §3.10, §4, §6.4, §9.6 (per script).
import { describe, expect, it } from 'vitest';
import { listScripts, rewriteRequested, runScript, runScriptFile } from '../testing/datadriven.ts';
import { InteractionEnv } from '../testing/interaction_env.ts';
import { runInteraction } from '../testing/interaction_handlers/dispatch.ts';

const testdata = new URL('../../testdata/', import.meta.url);
const scripts = listScripts(testdata);

describe('interaction scripts', () => {
  it('listScripts finds the interaction scripts in testdata', () => {
    expect(scripts.length).toBeGreaterThan(0);
  });

  for (const path of scripts) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    it(`RawNode trace matches ${name} step by step`, () => {
      const env = new InteractionEnv();
      const { original, actual } = runScriptFile(path, {
        handler: (testCase) => runInteraction(env, testCase),
        rewrite: rewriteRequested(),
      });
      if (!rewriteRequested()) {
        expect(actual).toBe(original);
      }
    });
  }
});

/** Runs an inline script in a fresh environment and returns its rendered text. */
function run(script: string): string {
  const env = new InteractionEnv();
  return runScript(script, { fileName: 'inline.txt', handler: (tc) => runInteraction(env, tc) });
}

/** The message lines of every Ready in a rendered script, one array per Ready. */
function readyMessages(rendered: string): string[][] {
  const batches: string[][] = [];
  let current: string[] | undefined;
  for (const line of rendered.split('\n')) {
    if (line.trim() === 'messages:') {
      current = [];
      batches.push(current);
    } else if (current !== undefined && line.startsWith('    ') && line.includes('->')) {
      current.push(line.trim());
    } else {
      current = undefined;
    }
  }
  return batches;
}

const electThree = `add-nodes 3 voters=(1,2,3)
----

campaign 1
----

stabilize
----
`;

describe('interaction regressions', () => {
  // Reference: thesis §6.4.1 — without a valid lease the leader must fall back to the §6.4
  // heartbeat round, and that round must answer the read.
  it('Raft.readIndex answers a leaseBased read by a heartbeat round when no lease is held', () => {
    const out = run(`add-nodes 3 voters=(1,2,3) readOnlyOption=leaseBased
----

campaign 1
----

stabilize
----

read-index 1 r1
----

stabilize
----
`);
    expect(out).toContain('index=1 context="r1"');
  });

  // Reference: thesis §4.1 — a new member is contacted as soon as its change is applied,
  // not only at the next heartbeat or proposal (etcd confchange initProgress).
  it('Raft.applyConfChange probes a newly added member without further traffic', () => {
    const out = run(`${electThree}
add-nodes 1 voters=()
----

propose-conf-change 1 v4
----

stabilize
----

raft-state
----
`);
    expect(out).toContain('4: follower (voter) term=1 leader=1 commit=2 applied=2');
  });

  // Reference: Raft §5.3 — the commit index reaches each follower once per Ready, not twice.
  it('Raft.handleAppendResponse sends one append per follower after a commit', () => {
    const out = run(`${electThree}
propose 1 x
----

stabilize
----
`);
    for (const batch of readyMessages(out)) {
      expect(new Set(batch).size).toBe(batch.length);
    }
  });
});
