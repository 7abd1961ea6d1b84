interface Waiting<I, O> {
  input: I;
  resolve(output: O): void;
  reject(err: unknown): void;
}

/**
 * Calls made in the same turn of the event loop, run as one: under load, many requests reach the
 * same statement at once, and one round trip (one write, one wake-up of the database, one commit)
 * then serves them all. `runMany` answers each input in order; when it fails, each input is run
 * on its own with `runOne`, so that one bad input (or a lost race) fails only its own call.
 */
export class TickBatch<I, O> {
  readonly #runMany: (inputs: I[]) => Promise<O[]>;
  readonly #runOne: (input: I) => Promise<O>;
  readonly #maxBatch: number;
  #waiting: Waiting<I, O>[] = [];

  constructor(runMany: (inputs: I[]) => Promise<O[]>, runOne: (input: I) => Promise<O>, maxBatch = 200) {
    this.#runMany = runMany;
    this.#runOne = runOne;
    this.#maxBatch = maxBatch;
  }

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      if (this.#waiting.length === 1) setImmediate(() => this.#flush());
      else if (this.#waiting.length >= this.#maxBatch) this.#flush();
    });
  }

  #flush(): void {
    const batch = this.#waiting;
    if (batch.length === 0) return;
    this.#waiting = [];
    if (batch.length === 1) {
      this.#runOne(batch[0].input).then(batch[0].resolve, batch[0].reject);
      return;
    }
    this.#runMany(batch.map((w) => w.input)).then(
      (outputs) => batch.forEach((w, i) => w.resolve(outputs[i])),
      () => {
        for (const w of batch) this.#runOne(w.input).then(w.resolve, w.reject);
      },
    );
  }
}
