/**
 * Goal: chaos targets are refused unless they are loopback addresses.
 * Method: table of hosts, loopback and not, checked with isLoopbackHost.
 */
import { describe, expect, it } from 'vitest';

import { isLoopbackHost } from './loopback.ts';

describe('isLoopbackHost', () => {
  it('isLoopbackHost accepts localhost, 127.0.0.0/8 and ::1', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
  });

  it('isLoopbackHost refuses private, public and named hosts', () => {
    for (const host of ['10.0.0.1', '192.168.1.1', '8.8.8.8', '::2', 'example.com', '']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});
