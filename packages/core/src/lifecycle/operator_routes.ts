/**
 * The operator routes of `sys/` that act on the node itself, through the router so that a
 * policy governs them and the audit log records them: `sys/seal`, `sys/step-down`,
 * `sys/rotate`, `sys/key-status` and `sys/seal-migration/*` (seal_migration_routes.ts) need
 * sudo (Vault's root-protected paths); `sys/metrics`
 * answers nothing but lets a token with read on it scrape the metrics endpoint; `sys/events`
 * (events/event_routes.ts) answers this node's cluster events to a token with read on it.
 *
 * NB: sealing stops the request path that serves this very request, so the route only asks
 * for it; CofferNode.handle seals after the response has been audited and returned.
 */
import type { KeyringStatus } from '../barrier/keyring.ts';
import { eventRoutes, type EventsPort } from '../events/event_routes.ts';
import type { Route } from '../router/backend.ts';
import { raftRoutes, type RaftRoutesPort } from './raft_routes.ts';
import { sealMigrationRoutes, type SealMigrationPort } from './seal_migration_routes.ts';

/** What the routes need from the node. */
export interface OperatorPort extends RaftRoutesPort, SealMigrationPort {
  /** Seals the node once the current request has been answered. */
  readonly requestSeal: () => void;
  /** Hands leadership to another voter; answers a warning when there is none. */
  readonly stepDown: () => Promise<string | undefined>;
  readonly rotate: () => Promise<void>;
  readonly keyStatus: () => KeyringStatus;
  /** The node's event journal (`sys/events`, read, no sudo); absent: no such route. */
  readonly events?: EventsPort;
}

function keyStatusData(status: KeyringStatus): Record<string, unknown> {
  return {
    term: status.term,
    install_time: new Date(status.installTimeMs).toISOString(),
    encryptions: status.encryptions,
    generation: status.generation,
    terms: status.terms.map((entry) => ({
      term: entry.term,
      install_time: new Date(entry.installTimeMs).toISOString(),
      encryptions: entry.encryptions,
    })),
  };
}

/** The operator routes of `sys/`. */
export function operatorRoutes(port: OperatorPort): readonly Route[] {
  return [
    {
      pattern: 'seal',
      sudo: true,
      operations: {
        update: () => {
          port.requestSeal();
          return Promise.resolve({});
        },
      },
    },
    {
      pattern: 'step-down',
      sudo: true,
      operations: {
        update: async () => {
          const warning = await port.stepDown();
          return warning === undefined ? {} : { warnings: [warning] };
        },
      },
    },
    {
      pattern: 'rotate',
      sudo: true,
      operations: {
        update: async () => {
          await port.rotate();
          return { data: keyStatusData(port.keyStatus()) };
        },
      },
    },
    {
      pattern: 'key-status',
      sudo: true,
      operations: { read: () => Promise.resolve({ data: keyStatusData(port.keyStatus()) }) },
    },
    { pattern: 'metrics', operations: { read: () => Promise.resolve({}) } },
    ...raftRoutes(port),
    ...sealMigrationRoutes(port),
    ...(port.events === undefined ? [] : eventRoutes(port.events)),
  ];
}
