/**
 * A three-member etcd cluster on loopback for `npm run bench:cluster`, in production shape:
 * client TLS on the client URLs, mutual TLS between peers (--peer-client-cert-auth), etcd's
 * default fsync and every other flag at its default. Each member has its own data directory
 * under the run's directory (the same disk as Coffer's). Certificates come from the repository's
 * own CA helpers (ECDSA P-256, like Coffer's).
 *
 *   install (apt-get, when missing) ─▶ CA + leaf ─▶ 3 members ─▶ each answers Status with a
 *   leader ─▶ running ─▶ close(): SIGTERM, SIGKILL after the grace
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { createCertificateAuthority, freeLoopbackPorts, issueCertificate } from '@coffer/api';

import { EtcdChannel } from './etcd_channel.ts';

const etcdBinary = '/usr/bin/etcd';
const startDeadlineMs = 30_000;

/** One member: its name, addresses and process. */
export interface EtcdMember {
  readonly name: string;
  readonly clientAddress: string;
  readonly peerUrl: string;
  readonly child: ChildProcess;
  readonly pid: number;
}

/**
 * Installs Debian's etcd-server (etcd 3.4) when /usr/bin/etcd is missing: apt-get as root.
 * Returns `etcd --version`'s first line.
 */
export function ensureEtcdInstalled(onProgress: (line: string) => void): string {
  if (!existsSync(etcdBinary)) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        'bench:cluster: etcd is missing; install etcd-server (apt-get) or run as root',
      );
    }
    onProgress('Installing etcd-server with apt-get (Debian: etcd 3.4)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'etcd-server'], {
      stdio: 'ignore',
      env,
    });
  }
  const version = execFileSync(etcdBinary, ['--version'], { encoding: 'utf8' });
  return (version.split('\n')[0] ?? 'etcd').trim();
}

/** Writes the CA, one leaf for 127.0.0.1 (server and client use) and its key (0600). */
async function writeCertificates(
  dir: string,
): Promise<{ caPem: string; files: Record<string, string> }> {
  const authority = await createCertificateAuthority({ commonName: 'etcd bench CA' });
  const leaf = await issueCertificate(authority, { hosts: ['localhost', '127.0.0.1'] });
  const files = {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'etcd.pem'),
    key: join(dir, 'etcd-key.pem'),
  };
  await writeFile(files.ca, authority.certPem, { mode: 0o644 });
  await writeFile(files.cert, leaf.certPem, { mode: 0o644 });
  await writeFile(files.key, leaf.keyPem, { mode: 0o600 });
  return { caPem: authority.certPem, files };
}

/** The flags of member `index`: TLS everywhere, everything else etcd's default. */
function memberFlags(
  dir: string,
  member: { name: string; clientUrl: string; peerUrl: string },
  shared: { initialCluster: string; tls: Record<string, string>; extra: readonly string[] },
): string[] {
  return [
    `--name=${member.name}`,
    `--data-dir=${join(dir, member.name)}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${shared.initialCluster}`,
    '--initial-cluster-state=new',
    '--initial-cluster-token=coffer-bench',
    `--cert-file=${shared.tls['cert'] ?? ''}`,
    `--key-file=${shared.tls['key'] ?? ''}`,
    `--peer-cert-file=${shared.tls['cert'] ?? ''}`,
    `--peer-key-file=${shared.tls['key'] ?? ''}`,
    `--peer-trusted-ca-file=${shared.tls['ca'] ?? ''}`,
    '--peer-client-cert-auth',
    ...shared.extra,
  ];
}

/** A running etcd cluster. */
export class EtcdCluster {
  readonly members: readonly EtcdMember[];
  readonly caPem: string;

  private constructor(members: EtcdMember[], caPem: string) {
    this.members = members;
    this.caPem = caPem;
  }

  /** Starts three members in `dir`; `extraFlags` (non-default knobs) go to each. */
  static async start(dir: string, extraFlags: readonly string[]): Promise<EtcdCluster> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { caPem, files } = await writeCertificates(dir);
    const ports = await freeLoopbackPorts(6);
    const plan = [0, 1, 2].map((i) => ({
      name: `etcd-${i + 1}`,
      clientUrl: `https://127.0.0.1:${ports[2 * i] ?? 0}`,
      peerUrl: `https://127.0.0.1:${ports[2 * i + 1] ?? 0}`,
    }));
    const initialCluster = plan.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const members = plan.map((member) => {
      const log = createWriteStream(join(dir, `${member.name}.log`));
      const flags = memberFlags(dir, member, { initialCluster, tls: files, extra: extraFlags });
      const child = spawn(etcdBinary, flags, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.pipe(log);
      child.stderr.pipe(log);
      return {
        name: member.name,
        clientAddress: member.clientUrl.slice('https://'.length),
        peerUrl: member.peerUrl,
        child,
        pid: child.pid ?? 0,
      };
    });
    const cluster = new EtcdCluster(members, caPem);
    try {
      await cluster.#waitForLeader();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** The members whose process still runs. */
  live(): readonly EtcdMember[] {
    return this.members.filter((m) => m.child.exitCode === null && m.child.signalCode === null);
  }

  async #waitForLeader(): Promise<void> {
    const until = Date.now() + startDeadlineMs;
    for (;;) {
      if (this.live().length < this.members.length) {
        throw new Error('bench:cluster: an etcd member exited during the start; see its log');
      }
      const ready = await Promise.all(
        this.members.map(async (member) => {
          const channel = new EtcdChannel(member.clientAddress, this.caPem, 0);
          try {
            return (await channel.status(1000)).leader !== 0n;
          } catch {
            return false;
          } finally {
            channel.close();
          }
        }),
      );
      if (ready.every(Boolean)) {
        return;
      }
      if (Date.now() > until) {
        throw new Error('bench:cluster: the etcd cluster elected no leader in 30 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** SIGTERM to each member still running, SIGKILL after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    await Promise.all(
      this.live().map(async (member) => {
        const exited = new Promise((resolve) => member.child.once('exit', resolve));
        member.child.kill('SIGTERM');
        const timer = setTimeout(() => member.child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
