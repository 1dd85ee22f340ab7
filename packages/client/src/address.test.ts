/**
 * Goal: parseServerAddress accepts the address forms operators type (host:port,
 * https://host:port, [v6]:port, a bare host for the default port) and refuses http:// and
 * garbage with COFFER_CLIENT_INVALID_ADDRESS and a message that shows the expected form.
 * Method: a table of inputs; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { defaultGrpcPort, parseServerAddress } from './address.ts';
import { ClientErrorCode, CofferClientError } from './errors.ts';

describe('parseServerAddress', () => {
  it.each([
    ['127.0.0.1:8200', '127.0.0.1', 8200, '127.0.0.1:8200'],
    ['https://127.0.0.1:8200', '127.0.0.1', 8200, '127.0.0.1:8200'],
    ['HTTPS://coffer.example.com:443/', 'coffer.example.com', 443, 'coffer.example.com:443'],
    ['localhost:1', 'localhost', 1, 'localhost:1'],
    ['[::1]:8200', '::1', 8200, '[::1]:8200'],
    ['https://[fe80::1]:65535', 'fe80::1', 65535, '[fe80::1]:65535'],
    ['coffer-1.internal', 'coffer-1.internal', defaultGrpcPort, 'coffer-1.internal:8200'],
  ])('parseServerAddress accepts %s', (...[address, host, port, target]) => {
    expect(parseServerAddress(address)).toEqual({ host, port, target });
  });

  it.each([
    ['http://127.0.0.1:8200', /uses http:\/\//],
    ['grpc://127.0.0.1:8200', /scheme "grpc"/],
    ['127.0.0.1:0', /port 0/],
    ['127.0.0.1:70000', /port 70000/],
    ['[::g]:8200', /IPv6/],
    ['-bad-.host:8200', /host name/],
    ['', /is not an address/],
    [' 127.0.0.1:8200', /is not an address/],
    ['127.0.0.1:8200/v1/sys', /is not an address/],
    ['127.0.0.1:port', /is not an address/],
    ['https://operator@127.0.0.1:8200', /without user info/],
  ])('parseServerAddress refuses %j', (address, why) => {
    let caught: unknown;
    try {
      parseServerAddress(address);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CofferClientError);
    const error = caught as CofferClientError;
    expect(error.code).toBe(ClientErrorCode.invalidAddress);
    expect(error.message).toMatch(/^Give the server address as host:port or https:\/\/host:port/);
    expect(error.message).toMatch(why);
    expect(error.message).not.toContain('operator@');
  });
});
