/**
 * Goal: DevServer starts an initialized, unsealed node with KV v2 at secret/, writes the root
 * token to a 0600 file and the CA certificate beside it, describes itself without the token,
 * and removes its directory at close; a malformed address is refused.
 * Method: in process, on 127.0.0.1 port 0, with a real LevelDB in the temporary directory the
 * dev server makes; the node is driven through its router (node.handle) with the token read
 * from the file.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

import { silentServerLog } from '@coffer/core';
import { describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import { DevServer } from './dev_server.ts';

describe('DevServer', { timeout: 60_000 }, () => {
  it('DevServer.start initializes, unseals, mounts secret/ and keeps the token in a 0600 file', async () => {
    const dev = await DevServer.start({
      grpcAddress: '127.0.0.1:0',
      httpAddress: '127.0.0.1:0',
      log: silentServerLog,
    });
    try {
      const { tokenFile, caCertFile } = dev.files;
      expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
      expect(await readFile(caCertFile, 'utf8')).toContain('-----BEGIN CERTIFICATE-----');
      const token = (await readFile(tokenFile, 'utf8')).trim();
      expect(dev.server.node.status()).toMatchObject({ initialized: true, sealed: false });
      const write = await dev.server.node.handle({
        operation: 'update',
        path: 'secret/data/hello',
        data: { data: { greeting: 'world' } },
        token,
      });
      expect(write.ok).toBe(true);
      const description = dev.describe();
      const { grpc } = dev.server.addresses();
      expect(description).toContain(`export COFFER_ADDR=${grpc} COFFER_CACERT=${caCertFile}`);
      expect(description).toContain(`--token-file ${tokenFile}`);
      expect(description).not.toContain(token);
    } finally {
      await dev.close();
    }
    expect(existsSync(dev.files.dir)).toBe(false);
  });

  it('DevServer.start refuses a malformed address', async () => {
    await expect(
      DevServer.start({ grpcAddress: '8200', log: silentServerLog }),
    ).rejects.toMatchObject({ code: ApiErrorCode.devSetupFailed });
  });
});
