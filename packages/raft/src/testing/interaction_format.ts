/**
 * Deterministic, human-readable text for the values the interaction scripts print: entries,
 * messages, Ready batches and log events. One message or entry per line, so a golden-file diff
 * reads like a trace, e.g.
 *
 *   1->2 append term=1 index=3 logTerm=1 commit=3 entries=[1/4 normal "x"]
 *
 * Entries are `term/index type payload`; payloads are shown as text (the scripts only propose
 * text), membership changes decoded.
 */
import {
  decodeConfChange,
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type Message,
  type ReadState,
  type Ready,
  type SnapshotChunk,
  type SnapshotMetadata,
} from '../index.ts';

const decoder = new TextDecoder();

/** Shows bytes as a quoted string. */
export function formatBytes(bytes: Uint8Array): string {
  return JSON.stringify(decoder.decode(bytes));
}

/** `term/index type payload`, e.g. `1/4 normal "x"` or `2/7 confChange addVoter 4`. */
export function formatEntry(entry: Entry): string {
  const head = `${entry.term}/${entry.index} ${entry.type}`;
  if (entry.type === EntryType.normal) {
    return `${head} ${formatBytes(entry.data)}`;
  }
  const change = decodeConfChange(entry.data);
  return change === undefined ? `${head} <undecodable>` : `${head} ${change.type} ${change.nodeId}`;
}

/** `voters=(1,2,3) learners=(4)`. */
export function formatConfState(conf: ConfState): string {
  return `voters=(${conf.voters.join(',')}) learners=(${conf.learners.join(',')})`;
}

/** `index=5 term=1 voters=(1,2,3) learners=()`. */
export function formatSnapshotMetadata(metadata: SnapshotMetadata): string {
  return `index=${metadata.index} term=${metadata.term} ${formatConfState(metadata.confState)}`;
}

function formatChunk(chunk: SnapshotChunk): string {
  const meta = chunk.metadata;
  return `snapshot=${meta.term}/${meta.index} offset=${chunk.offsetBytes} data=${formatBytes(chunk.data)} done=${chunk.done}`;
}

function withContext(text: string, m: Message): string {
  return m.context.byteLength === 0 ? text : `${text} context=${formatBytes(m.context)}`;
}

function formatAppendResponse(head: string, m: Message): string {
  if (!m.reject) {
    return `${head} index=${m.index}`;
  }
  return `${head} index=${m.index} reject rejectHint=${m.rejectHint} logTerm=${m.logTerm}`;
}

function formatSnapshotMessage(head: string, m: Message): string {
  if (m.snapshot === undefined) {
    return `${head} <no chunk>`;
  }
  if (m.type === MessageType.snapshot) {
    return `${head} ${formatChunk(m.snapshot)} ${formatConfState(m.snapshot.metadata.confState)}`;
  }
  const meta = m.snapshot.metadata;
  const reject = m.reject ? ' reject' : '';
  return `${head}${reject} snapshot=${meta.term}/${meta.index} nextOffset=${m.snapshot.offsetBytes}`;
}

/** One line per message; only the fields its type uses (see Message in core/types.ts). */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case MessageType.append:
      return `${head} index=${m.index} logTerm=${m.logTerm} commit=${m.commit} entries=[${m.entries.map(formatEntry).join(', ')}]`;
    case MessageType.appendResponse:
      return formatAppendResponse(head, m);
    case MessageType.vote:
    case MessageType.preVote:
      return `${head} index=${m.index} logTerm=${m.logTerm}${m.leaderTransfer ? ' leaderTransfer' : ''}`;
    case MessageType.voteResponse:
    case MessageType.preVoteResponse:
      return m.reject ? `${head} reject` : head;
    case MessageType.heartbeat:
      return withContext(`${head} commit=${m.commit} sentTick=${m.index}`, m);
    case MessageType.heartbeatResponse:
      return withContext(`${head} sentTick=${m.index}`, m);
    case MessageType.snapshot:
    case MessageType.snapshotResponse:
      return formatSnapshotMessage(head, m);
    case MessageType.readIndex:
      return withContext(head, m);
    case MessageType.readIndexResponse:
      return withContext(`${head} index=${m.index}`, m);
    case MessageType.timeoutNow:
      return head;
  }
}

/** `index=3 context="a"`. */
export function formatReadState(state: ReadState): string {
  return `index=${state.index} context=${formatBytes(state.context)}`;
}

function section<T>(title: string, items: readonly T[], format: (item: T) => string): string[] {
  return items.length === 0 ? [] : [`${title}:`, ...items.map((item) => `  ${format(item)}`)];
}

/** A Ready batch as lines, in the order the driver handles it; empty parts are left out. */
export function formatReady(ready: Ready): string[] {
  const lines = [`Ready mustSync=${ready.mustSync}:`];
  if (ready.softState !== undefined) {
    lines.push(`softState role=${ready.softState.role} leader=${ready.softState.leader}`);
  }
  if (ready.hardState !== undefined) {
    const hs = ready.hardState;
    lines.push(`hardState term=${hs.term} vote=${hs.vote} commit=${hs.commit}`);
  }
  lines.push(...section('snapshotChunks', ready.snapshotChunks, formatChunk));
  if (ready.snapshot !== undefined) {
    lines.push(`snapshot ${formatSnapshotMetadata(ready.snapshot)}`);
  }
  lines.push(
    ...section('entries', ready.entries, formatEntry),
    ...section('committedEntries', ready.committedEntries, formatEntry),
    ...section('messages', ready.messages, formatMessage),
    ...section('readStates', ready.readStates, formatReadState),
  );
  if (ready.snapshotWanted) {
    lines.push('snapshotWanted');
  }
  return lines;
}

/** A log event: `INFO 1 became leader term=2`, with the node id first and fields in order. */
export function formatLogEvent(
  level: string,
  event: string,
  fields: Record<string, unknown> | undefined,
): string {
  const entries = Object.entries(fields ?? {});
  const id = entries.find(([key]) => key === 'id')?.[1];
  const rest = entries
    .filter(([key]) => key !== 'id')
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  const prefix = id === undefined ? level : `${level} ${formatValue(id)}`;
  return [prefix, event, ...rest].join(' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  if (value instanceof Uint8Array) {
    return formatBytes(value);
  }
  return value === undefined ? 'undefined' : JSON.stringify(value);
}
