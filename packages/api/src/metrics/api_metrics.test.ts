/**
 * Goal: the metrics expose request series with only the labels operation, mount and code, each
 * bounded so a client cannot grow them without limit; the node gauges come from the source at
 * scrape time; two instances never share series; no path reaches the text.
 * Method: ApiMetrics with a hand-made MetricsSource; observations with known and hostile label
 * values; the rendered Prometheus text parsed line by line.
 */
import { describe, expect, it } from 'vitest';

import { ApiMetrics, type MetricsSnapshot } from './api_metrics.ts';
import { codeLabel, MountLabels, operationLabel } from './metrics_labels.ts';

/** The label sets of every sample of `metric` in `text`. */
function labelSets(text: string, metric: string): Record<string, string>[] {
  const sets: Record<string, string>[] = [];
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${metric}\\{([^}]*)\\} `).exec(line);
    if (match?.[1] !== undefined) {
      const labels: Record<string, string> = {};
      for (const pair of match[1].matchAll(/(\w+)="([^"]*)"/g)) {
        labels[pair[1] ?? ''] = pair[2] ?? '';
      }
      sets.push(labels);
    }
  }
  return sets;
}

function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics labels', () => {
  it('operationLabel keeps the six core operations and maps the rest to other', () => {
    for (const operation of ['create', 'read', 'update', 'patch', 'delete', 'list']) {
      expect(operationLabel(operation)).toBe(operation);
    }
    expect(operationLabel('secret/data/app')).toBe('other');
  });

  it('codeLabel keeps ok and known codes and maps the rest to other', () => {
    expect(codeLabel('ok')).toBe('ok');
    expect(codeLabel('COFFER_CORE_PERMISSION_DENIED')).toBe('COFFER_CORE_PERMISSION_DENIED');
    expect(codeLabel('COFFER_API_ROUTE_NOT_FOUND')).toBe('COFFER_API_ROUTE_NOT_FOUND');
    expect(codeLabel('COFFER_CORE_MADE_UP')).toBe('other');
  });

  it('MountLabels keeps at most max mounts and refuses non-mount strings', () => {
    const mounts = new MountLabels(2);
    expect(mounts.label(undefined)).toBe('none');
    expect(mounts.label('secret/')).toBe('secret/');
    expect(mounts.label('secret/data/app/db')).toBe('other');
    expect(mounts.label('a b/')).toBe('other');
    expect(mounts.label('auth/approle/')).toBe('auth/approle/');
    expect(mounts.label('kv/')).toBe('other');
    expect(mounts.label('secret/')).toBe('secret/');
    expect(mounts.size).toBe(2);
  });
});

describe('ApiMetrics', () => {
  it('ApiMetrics.observeRequest counts requests with only operation, mount and code labels', async () => {
    const metrics = new ApiMetrics({ mountLabelsMax: 2 });
    metrics.observeRequest({ operation: 'read', mount: 'secret/', code: 'ok', seconds: 0.002 });
    metrics.observeRequest({ operation: 'read', mount: 'secret/', code: 'ok', seconds: 0.003 });
    metrics.observeRequest({
      operation: 'update',
      mount: 'secret/data/canary-path-1234',
      code: 'COFFER_CORE_PERMISSION_DENIED',
      seconds: Number.NaN,
    });
    metrics.observeRequest({ operation: 'frobnicate', code: 'NOT_A_CODE', seconds: -1 });
    const text = await metrics.render();
    metrics.close();
    expect(metrics.contentType).toContain('text/plain');
    const counts = labelSets(text, 'coffer_requests_total');
    expect(counts).toContainEqual({ operation: 'read', mount: 'secret/', code: 'ok' });
    expect(counts).toContainEqual({ operation: 'other', mount: 'none', code: 'other' });
    expect(
      sampleValue(text, 'coffer_requests_total{operation="read",mount="secret/",code="ok"}'),
    ).toBe(2);
    for (const labels of [...counts, ...labelSets(text, 'coffer_request_duration_seconds_count')]) {
      expect(Object.keys(labels).sort()).toEqual(['code', 'mount', 'operation']);
    }
    // NB: a path without the trailing slash of a mount is refused as a mount label.
    expect(text).not.toContain('canary-path-1234');
  });

  it('ApiMetrics.observeRequest counts stale reads by operation, mount and code only', async () => {
    const metrics = new ApiMetrics();
    metrics.observeRequest({ operation: 'read', mount: 'secret/', code: 'ok', seconds: 0.001 });
    for (const code of ['ok', 'ok', 'COFFER_CORE_NOT_FOUND']) {
      metrics.observeRequest({
        operation: 'read',
        mount: 'secret/',
        code,
        seconds: 0,
        stale: true,
      });
    }
    metrics.observeRequest({
      operation: 'list',
      mount: 'kv/',
      code: 'ok',
      seconds: 0,
      stale: true,
    });
    const text = await metrics.render();
    metrics.close();
    const stale = labelSets(text, 'coffer_stale_reads_total');
    for (const labels of stale) {
      expect(Object.keys(labels).sort()).toEqual(['code', 'mount', 'operation']);
    }
    expect(
      sampleValue(text, 'coffer_stale_reads_total{operation="read",mount="secret/",code="ok"}'),
    ).toBe(2);
    expect(stale).toContainEqual({
      operation: 'read',
      mount: 'secret/',
      code: 'COFFER_CORE_NOT_FOUND',
    });
    expect(stale).toContainEqual({ operation: 'list', mount: 'kv/', code: 'ok' });
    expect(
      sampleValue(text, 'coffer_requests_total{operation="read",mount="secret/",code="ok"}'),
    ).toBe(3);
  });

  it('ApiMetrics.render reads the node gauges from the source at scrape time', async () => {
    let snapshot: MetricsSnapshot = {
      sealed: true,
      initialized: true,
      active: false,
      raft: undefined,
      auditFailures: 0,
      leaderChanges: 0,
      forwardedRequests: 0,
      standbyReads: 0,
    };
    const metrics = new ApiMetrics({ source: { snapshot: () => snapshot } });
    const sealed = await metrics.render();
    expect(sampleValue(sealed, 'coffer_sealed')).toBe(1);
    expect(sampleValue(sealed, 'coffer_raft_term')).toBe(0);
    snapshot = {
      sealed: false,
      initialized: true,
      active: true,
      raft: { term: 4, commitIndex: 17, appliedIndex: 16, leaderId: 1 },
      auditFailures: 3,
      leaderChanges: 2,
      forwardedRequests: 5,
      standbyReads: 7,
    };
    const unsealed = await metrics.render();
    metrics.close();
    expect(sampleValue(unsealed, 'coffer_sealed')).toBe(0);
    expect(sampleValue(unsealed, 'coffer_active')).toBe(1);
    expect(sampleValue(unsealed, 'coffer_raft_term')).toBe(4);
    expect(sampleValue(unsealed, 'coffer_raft_commit_index')).toBe(17);
    expect(sampleValue(unsealed, 'coffer_raft_applied_index')).toBe(16);
    expect(sampleValue(unsealed, 'coffer_raft_leader_changes_total')).toBe(2);
    expect(sampleValue(unsealed, 'coffer_forwarded_requests_total')).toBe(5);
    expect(sampleValue(unsealed, 'coffer_standby_reads_total')).toBe(7);
    expect(sampleValue(unsealed, 'coffer_raft_leader_id')).toBe(1);
    expect(sampleValue(unsealed, 'coffer_audit_failures_total')).toBe(3);
    expect(unsealed).toContain('# TYPE coffer_audit_failures_total counter');
    expect(
      sampleValue(unsealed, 'coffer_event_loop_delay_seconds{quantile="0.99"}'),
    ).toBeGreaterThanOrEqual(0);
  });

  it('ApiMetrics.render fails with a code when the source throws', async () => {
    const metrics = new ApiMetrics({
      source: {
        snapshot: () => {
          throw new Error('boom');
        },
      },
    });
    await expect(metrics.render()).rejects.toMatchObject({
      code: 'COFFER_API_METRICS_UNAVAILABLE',
    });
    metrics.close();
  });

  it('ApiMetrics instances keep their own registries', async () => {
    const first = new ApiMetrics();
    const second = new ApiMetrics();
    first.observeRequest({ operation: 'list', mount: 'secret/', code: 'ok', seconds: 0.001 });
    const text = await second.render();
    first.close();
    second.close();
    expect(labelSets(text, 'coffer_requests_total')).toEqual([]);
  });
});
