/**
 * The policy store: ACL policies by name in a StorageView (the text as written, at key
 * `<name>`), the built-in policies, and caches of parsed policies and compiled ACLs.
 *
 * Caches are keyed on the stored version of each policy (getVersioned is a local read), so a
 * write made on another node invalidates them the moment this node applies it: no
 * invalidation message is needed, and a cached entry can never be newer or older than storage.
 *
 * Invariant: `root` and `response-wrapping` are never stored; `default` is stored only once an
 * operator writes it (until then the built-in text applies) and is never deleted.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Backend } from '../router/backend.ts';
import { isPlainObject } from '../router/fields.ts';
import {
  deleteKey,
  listAll,
  parseJsonBytes,
  putJson,
  type StorageView,
} from '../router/storage_view.ts';
import { Acl } from './acl.ts';
import {
  builtinDefaultPolicy,
  defaultPolicyName,
  responseWrappingPolicy,
  responseWrappingPolicyName,
  rootPolicy,
  rootPolicyName,
} from './builtin_policies.ts';
import { policyBackend } from './policy_backend.ts';
import { normalizePolicyName } from './policy_name.ts';
import { parsePolicy } from './policy_parser.ts';
import type { Policy } from './policy_types.ts';

/** Options of a PolicyStore. */
export interface PolicyStoreOptions {
  /** The view policies live in (a system area of the replicated state). */
  readonly storage: StorageView;
  /** The most compiled ACLs kept; the least recently used goes first. Default 512. */
  readonly aclCacheSizeMax?: number;
}

/** What is stored at `<name>`. */
interface StoredPolicy {
  readonly name: string;
  readonly policy: string;
}

interface CachedPolicy {
  readonly version: number;
  readonly policy: Policy;
}

const builtinVersion = -1;
const rootAcl = Acl.fromPolicies([rootPolicy]);

function decodeStored(bytes: Uint8Array, name: string): StoredPolicy {
  let value: unknown;
  try {
    value = parseJsonBytes<unknown>(bytes);
  } catch (error) {
    throw new CoreError(
      CoreErrorCode.internal,
      `Rewrite the policy "${name}": its stored record does not decode`,
      { cause: error },
    );
  }
  if (!isPlainObject(value) || value['name'] !== name || typeof value['policy'] !== 'string') {
    throw new CoreError(
      CoreErrorCode.internal,
      `Rewrite the policy "${name}": its stored record is malformed`,
    );
  }
  return { name, policy: value['policy'] };
}

/** Stores, caches and compiles policies. */
export class PolicyStore {
  readonly #storage: StorageView;
  readonly #aclCacheSizeMax: number;
  readonly #policies = new Map<string, CachedPolicy>();
  readonly #acls = new Map<string, Acl>();
  /** Normalized, sorted policy names by the JSON text of the list a token presents. */
  readonly #names = new Map<string, readonly string[]>();

  constructor(options: PolicyStoreOptions) {
    this.#storage = options.storage;
    this.#aclCacheSizeMax = options.aclCacheSizeMax ?? 512;
  }

  /** The policy and the version it was read at (builtinVersion for built-in text). */
  async #load(name: string): Promise<CachedPolicy | undefined> {
    if (name === rootPolicyName) {
      return { version: builtinVersion, policy: rootPolicy };
    }
    if (name === responseWrappingPolicyName) {
      return { version: builtinVersion, policy: responseWrappingPolicy };
    }
    // NB: the version first (no decryption): a cached policy at that version is current.
    const version = await this.#storage.versionOf(name);
    const cached = this.#policies.get(name);
    if (cached !== undefined && version !== undefined && cached.version === version) {
      return cached;
    }
    const stored = version === undefined ? undefined : await this.#storage.getVersioned(name);
    if (stored === undefined) {
      this.#policies.delete(name);
      return name === defaultPolicyName
        ? { version: builtinVersion, policy: builtinDefaultPolicy }
        : undefined;
    }
    const record = decodeStored(stored.value, name);
    let policy: Policy;
    try {
      policy = parsePolicy(name, record.policy);
    } catch (error) {
      throw new CoreError(
        CoreErrorCode.policyInvalid,
        `Rewrite the policy "${name}": its stored text no longer parses`,
        { cause: error },
      );
    }
    const loaded = { version: stored.version, policy };
    this.#policies.set(name, loaded);
    return loaded;
  }

  /** The policy named `name` (any case), built-ins included; undefined when there is none. */
  async get(name: string): Promise<Policy | undefined> {
    return (await this.#load(normalizePolicyName(name)))?.policy;
  }

  /**
   * The ACL of a token holding these policies. Unknown and malformed names are skipped (as
   * Vault does); `root` among them gives the root ACL.
   */
  async acl(names: readonly string[]): Promise<Acl> {
    const sorted = this.#normalizedNames(names);
    if (sorted.includes(rootPolicyName)) {
      return rootAcl;
    }
    // NB: loaded one after the other (each is a local read, and a cached policy decrypts
    // nothing), so a request makes no promise or array per name. The key is exact: a policy
    // name holds no "/" and no "," (policy_name.ts).
    const loaded: (CachedPolicy | undefined)[] = [];
    let key = '';
    for (const name of sorted) {
      const entry = await this.#load(name);
      loaded.push(entry);
      key += `${key === '' ? '' : ','}${name}/${entry?.version ?? 'none'}`;
    }
    const cached = this.#acls.get(key);
    if (cached !== undefined) {
      this.#acls.delete(key);
      this.#acls.set(key, cached);
      return cached;
    }
    const policies = loaded.flatMap((entry) => (entry === undefined ? [] : [entry.policy]));
    const acl = Acl.fromPolicies(policies);
    this.#acls.set(key, acl);
    if (this.#acls.size > this.#aclCacheSizeMax) {
      const oldest = this.#acls.keys().next().value;
      if (oldest !== undefined) {
        this.#acls.delete(oldest);
      }
    }
    return acl;
  }

  /**
   * The distinct normalized names of a token's policies, sorted; names that cannot be stored
   * are skipped (they name no policy). Remembered by the list's JSON text, an exact key: a
   * token presents the same list on every request.
   */
  #normalizedNames(names: readonly string[]): readonly string[] {
    const key = JSON.stringify(names);
    const known = this.#names.get(key);
    if (known !== undefined) {
      return known;
    }
    const normalized = new Set<string>();
    for (const raw of names) {
      try {
        normalized.add(normalizePolicyName(raw));
      } catch {
        // A name that cannot be stored names no policy: skip it like an unknown one.
      }
    }
    const sorted = Object.freeze([...normalized].sort());
    this.#names.set(key, sorted);
    if (this.#names.size > this.#aclCacheSizeMax) {
      const oldest = this.#names.keys().next().value;
      if (oldest !== undefined) {
        this.#names.delete(oldest);
      }
    }
    return sorted;
  }

  /** Every assignable policy name, sorted: stored ones, `default` and `root`. */
  async list(): Promise<string[]> {
    const names = new Set((await listAll(this.#storage, '')).filter((key) => !key.includes('/')));
    names.add(defaultPolicyName);
    names.add(rootPolicyName);
    names.delete(responseWrappingPolicyName);
    return [...names].sort();
  }

  /**
   * Parses and stores a policy (create or replace). Throws COFFER_CORE_POLICY_INVALID for a bad
   * document and COFFER_CORE_INVALID_REQUEST for a bad or built-in name.
   */
  async write(name: string, text: string): Promise<Policy> {
    const normalized = normalizePolicyName(name);
    if (normalized === rootPolicyName || normalized === responseWrappingPolicyName) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Choose another policy name: "${normalized}" is built in and cannot be changed`,
      );
    }
    const policy = parsePolicy(normalized, text);
    const record: StoredPolicy = { name: normalized, policy: text };
    await putJson(this.#storage, normalized, record);
    return policy;
  }

  /** Deletes a policy; deleting one that does not exist succeeds (Vault: idempotent). */
  async delete(name: string): Promise<void> {
    const normalized = normalizePolicyName(name);
    if ([rootPolicyName, defaultPolicyName, responseWrappingPolicyName].includes(normalized)) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Keep the policy "${normalized}": it is built in and cannot be deleted`,
      );
    }
    await deleteKey(this.#storage, normalized);
    this.#policies.delete(normalized);
  }

  /** True when the policy is stored (the router's create/update existence check). */
  async isStored(name: string): Promise<boolean> {
    return (await this.#storage.getVersioned(normalizePolicyName(name))) !== undefined;
  }

  /** The `sys/` routes that manage policies (relative to the sys mount). */
  backend(): Backend {
    return policyBackend(this);
  }
}
