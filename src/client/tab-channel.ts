/**
 * Talking to the other tabs of this origin over a `BroadcastChannel`: new access tokens,
 * sign-outs, "does anyone hold a fresh token?" queries, and the claims of the fallback
 * mutex. Tokens travel with their *remaining* lifetime, so each tab computes the expiry on
 * its own clock and tabs whose clocks disagree still agree on when a token expires.
 *
 * BroadcastChannel never leaves the browser and never reaches another origin; nothing here
 * touches any storage area.
 */

/** An access token as one tab hands it to another. */
export interface TokenSnapshot {
  token: string;
  /** Milliseconds until `exp`, measured by the sender just before sending. */
  remainingMs: number;
  /** The token's whole lifetime (the server's `expiresIn`) in milliseconds. */
  lifetimeMs: number;
}

/** Why a tab announces a token: a sign-in (possibly of another user) or a refresh. */
export type TokenReason = 'login' | 'refresh';

/** Every message also carries `from`, the sender's id (added by `#post`). */
type Outgoing =
  | { t: 'hello' }
  | { t: 'here'; to: string }
  | { t: 'bye' }
  | ({ t: 'token'; reason: TokenReason } & TokenSnapshot)
  | { t: 'signed-out' }
  | { t: 'query'; id: string }
  | { t: 'reply'; to: string; id: string; snapshot: TokenSnapshot | null }
  | { t: 'claim'; ttlMs: number }
  | { t: 'release' };

type Message = Outgoing & { from: string };

export interface TabChannelHandlers {
  /** This tab's current token, for a sibling's query; `null` when it has none. */
  snapshot(): TokenSnapshot | null;
  /** A sibling obtained a new token (login or refresh). */
  onToken(snapshot: TokenSnapshot, reason: TokenReason): void;
  /** A sibling signed out (or found the session dead). */
  onSignedOut(): void;
}

export interface TabChannelOptions {
  name: string;
  now: () => number;
  random: () => number;
  handlers: TabChannelHandlers;
  /** Longest wait for answers to a query. */
  queryTimeoutMs?: number;
  /** How long a new tab listens for siblings before its first query. */
  discoveryMs?: number;
}

function randomId(random: () => number): string {
  // randomUUID exists only in secure contexts (not on plain-http test hosts).
  return (globalThis as { crypto?: Partial<Crypto> }).crypto?.randomUUID?.() ?? `${random()}${random()}`.replace(/0\./g, '');
}

function isSnapshot(value: unknown): value is TokenSnapshot {
  const v = value as Partial<TokenSnapshot> | null;
  // Number.isFinite is false for anything but a finite number (no coercion).
  return !!v && typeof v.token === 'string' && Number.isFinite(v.remainingMs) && (v.lifetimeMs as number) > 0 && Number.isFinite(v.lifetimeMs);
}

export class TabChannel {
  readonly id: string;
  readonly #channel: BroadcastChannel;
  readonly #o: TabChannelOptions;
  readonly #peers = new Set<string>();
  readonly #queries = new Map<string, (from: string, snapshot: TokenSnapshot | null) => void>();
  /** Claims of the fallback mutex held by siblings: tab id → local time the claim lapses. */
  readonly #claims = new Map<string, number>();
  readonly #claimWaiters = new Set<() => void>();
  #discovery: Promise<void> | null;
  #endDiscovery: () => void = () => undefined;
  #closed = false;

  constructor(options: TabChannelOptions) {
    this.#o = options;
    this.id = randomId(options.random);
    this.#channel = new BroadcastChannel(options.name);
    this.#channel.onmessage = (event: MessageEvent) => this.#receive(event.data);
    const discoveryMs = options.discoveryMs ?? 200;
    this.#discovery = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, discoveryMs);
      this.#endDiscovery = () => {
        clearTimeout(timer);
        resolve();
      };
    }).then(() => {
      this.#discovery = null;
    });
    this.hello();
  }

  /** Announces this tab (again, e.g. after it was frozen or restored from the bfcache). */
  hello(): void {
    this.#post({ t: 'hello' });
  }

  announceToken(snapshot: TokenSnapshot, reason: TokenReason): void {
    this.#post({ t: 'token', reason, ...snapshot });
  }

  /** Tells siblings this tab is leaving (pagehide); `hello()` brings it back. */
  goodbye(): void {
    this.#post({ t: 'bye' });
  }

  announceSignedOut(): void {
    this.#post({ t: 'signed-out' });
  }

  /**
   * Asks every sibling for its token and resolves with the first one `accept` takes, or
   * `null` once every known sibling answered without one (or the timeout passed; silent
   * siblings are then forgotten until they speak again).
   */
  async ask(accept: (snapshot: TokenSnapshot) => boolean): Promise<TokenSnapshot | null> {
    if (this.#closed) return null;
    if (this.#discovery) await this.#discovery;
    if (this.#peers.size === 0) return null;
    const id = randomId(this.#o.random);
    const waiting = new Set(this.#peers);
    return new Promise<TokenSnapshot | null>((resolve) => {
      const finish = (result: TokenSnapshot | null): void => {
        clearTimeout(timer);
        this.#queries.delete(id);
        resolve(result);
      };
      const timer = setTimeout(() => {
        for (const peer of waiting) this.#peers.delete(peer);
        finish(null);
      }, this.#o.queryTimeoutMs ?? 1000);
      this.#queries.set(id, (from, snapshot) => {
        waiting.delete(from);
        if (snapshot && accept(snapshot)) finish(snapshot);
        else if (waiting.size === 0) finish(null);
      });
      this.#post({ t: 'query', id });
    });
  }

  // ── claims, for the mutex used where Web Locks are missing ────────────────

  claim(ttlMs: number): void {
    this.#post({ t: 'claim', ttlMs });
  }

  release(): void {
    this.#post({ t: 'release' });
  }

  /** Ids of siblings whose claim is still live. */
  activeClaims(): string[] {
    const now = this.#o.now();
    for (const [from, until] of this.#claims) if (until <= now) this.#claims.delete(from);
    return [...this.#claims.keys()];
  }

  /** Resolves when no sibling holds a claim (lapsed claims end the wait too). */
  async whenUnclaimed(): Promise<void> {
    while (!this.#closed && this.activeClaims().length > 0) {
      const soonest = Math.min(...this.#claims.values()) - this.#o.now();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#claimWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, soonest));
        this.#claimWaiters.add(done);
      });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.goodbye();
    this.#closed = true;
    this.#endDiscovery();
    for (const [, answer] of this.#queries) answer('', null);
    this.#queries.clear();
    this.#channel.close();
    this.#wakeClaimWaiters();
  }

  #post(message: Outgoing): void {
    if (this.#closed) return;
    try {
      this.#channel.postMessage({ ...message, from: this.id });
    } catch {
      // A closed or unavailable channel: this tab just stops coordinating.
    }
  }

  #wakeClaimWaiters(): void {
    for (const wake of [...this.#claimWaiters]) wake();
  }

  #dropClaim(from: string): void {
    if (this.#claims.delete(from)) this.#wakeClaimWaiters();
  }

  #receive(data: unknown): void {
    if (this.#closed || !data || typeof data !== 'object') return;
    const message = data as Message;
    if (typeof message.from !== 'string' || message.from === this.id) return;
    const from = message.from;
    if (message.t !== 'bye') this.#peers.add(from);
    const { handlers } = this.#o;
    switch (message.t) {
      case 'hello':
        this.#post({ t: 'here', to: from });
        break;
      case 'here':
        if (message.to === this.id) this.#endDiscovery();
        break;
      case 'bye':
        this.#peers.delete(from);
        this.#dropClaim(from);
        for (const [, answer] of this.#queries) answer(from, null);
        break;
      case 'token':
        if (isSnapshot(message)) {
          // The message is a TokenSnapshot (checked above); its extra fields are never read.
          handlers.onToken(message, message.reason === 'login' ? 'login' : 'refresh');
        }
        break;
      case 'signed-out':
        handlers.onSignedOut();
        break;
      case 'query':
        this.#post({ t: 'reply', to: from, id: message.id, snapshot: handlers.snapshot() });
        break;
      case 'reply':
        if (message.to === this.id) this.#queries.get(message.id)?.(from, isSnapshot(message.snapshot) ? message.snapshot : null);
        break;
      case 'claim':
        if (typeof message.ttlMs === 'number' && message.ttlMs > 0) {
          this.#claims.set(from, this.#o.now() + Math.min(message.ttlMs, 60_000));
        }
        break;
      case 'release':
        this.#dropClaim(from);
        break;
    }
  }
}
