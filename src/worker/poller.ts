/**
 * The schedule of a background worker (the mail queue, webhook deliveries): `run` every
 * `pollMs` and at once on `kick()`, never two runs at a time — a kick during a run asks for one
 * more run right after it — and none once `stop()` was called, which waits for the run in
 * progress. The timer is unref'd: a worker never keeps the process alive.
 */
export class Poller {
  readonly #pollMs: number;
  readonly #run: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(pollMs: number, run: () => Promise<void>) {
    this.#pollMs = pollMs;
    this.#run = run;
  }

  /** Whether `stop()` was called (and no `start()` since): runs check it to end early. */
  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#stopped = false;
    this.#timer ??= setInterval(() => this.kick(), this.#pollMs);
    this.#timer.unref();
    this.kick();
  }

  /** Runs now (or right after the run in progress), without waiting for the next poll. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** No more runs; resolves when the run in progress has ended. The state changes at once, before the first await. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
