/**
 * Goal: decodeResponse turns a coffer.v1.Response into a CofferResponse: data_json "" is {},
 * other text must be a JSON object, and a lease, auth or wrap info with an empty id is absent;
 * a bad data_json is refused without quoting it (it may hold a secret).
 * Method: decode hand-made messages; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { ClientErrorCode, CofferClientError } from './errors.ts';
import type { Response__Output } from './generated/coffer/v1/Response.ts';
import { decodeDataJson, decodeResponse } from './response_decoding.ts';

const empty: Response__Output = {
  request_id: 'r',
  data_json: '',
  lease: null,
  auth: null,
  wrap_info: null,
  warnings: [],
  stale_read: null,
};

describe('decodeResponse', () => {
  it('decodeResponse gives empty data and no lease, auth or wrap info for an empty message', () => {
    expect(decodeResponse(empty)).toEqual({
      requestId: 'r',
      data: {},
      lease: undefined,
      auth: undefined,
      wrapInfo: undefined,
      warnings: [],
    });
  });

  it('decodeResponse gives the applied index of a stale answer and refuses a bad one', () => {
    expect(decodeResponse({ ...empty, stale_read: { applied_index: 42 } }).staleRead).toEqual({
      appliedIndex: 42,
    });
    expect(decodeResponse(empty)).not.toHaveProperty('staleRead');
    for (const applied_index of [-1, 1.5, Number.NaN]) {
      expect(() => decodeResponse({ ...empty, stale_read: { applied_index } })).toThrow(
        expect.objectContaining({ code: ClientErrorCode.invalidResponse }),
      );
    }
  });

  it('decodeResponse treats a lease, auth or wrap info with an empty id as absent', () => {
    const decoded = decodeResponse({
      ...empty,
      lease: { lease_id: '', ttl_seconds: 30, renewable: true },
      auth: {
        client_token: '',
        accessor: 'a',
        policies: [],
        token_policies: [],
        metadata: {},
        lease_duration_seconds: 0,
        renewable: false,
        orphan: false,
        token_type: '',
        num_uses: 0,
      },
      wrap_info: { token: '', accessor: '', ttl_seconds: 0, creation_time: '', creation_path: '' },
    });
    expect([decoded.lease, decoded.auth, decoded.wrapInfo]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('decodeDataJson parses a JSON object', () => {
    expect(decodeDataJson('{"keys":["a","b/"],"n":1}')).toEqual({ keys: ['a', 'b/'], n: 1 });
  });

  it.each(['{"password": "hunter2"', '["hunter2"]', '"hunter2"', 'null', '42'])(
    'decodeDataJson refuses %j without quoting it',
    (text) => {
      let caught: unknown;
      try {
        decodeDataJson(text);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CofferClientError);
      const error = caught as CofferClientError;
      expect(error.code).toBe(ClientErrorCode.invalidResponse);
      expect(`${error.message} ${String(error.cause)}`).not.toContain('hunter2');
    },
  );
});
