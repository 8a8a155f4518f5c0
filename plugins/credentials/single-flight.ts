/**
 * Runs one piece of work per key at a time: callers that ask for a key while its work is running
 * share the same promise. Nothing is kept once the work settles.
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>()

  run (key: string, work: () => Promise<T>): Promise<T> {
    let running = this.#running.get(key)
    if (running === undefined) {
      running = work()
      this.#running.set(key, running)
      const forget = (): void => { this.#running.delete(key) }
      running.then(forget, forget)
    }
    return running
  }

  has (key: string): boolean {
    return this.#running.has(key)
  }

  get size (): number {
    return this.#running.size
  }
}
