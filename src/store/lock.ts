// A per-key async mutex: read-modify-write operations on one record (a sighting merge, a deployment update,
// the next event seq) run one after another, so concurrent callers never lose each other's writes.
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>()

  async run<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const tail = next.catch(() => {})
    this.#tails.set(key, tail)
    try {
      return await next
    } finally {
      // Drop the entry when nobody queued behind us, so the map does not grow with every key ever seen.
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }
}
