import { MCP_AUTH_BUSY } from '../../core/errors.js'

/**
 * Bounds password-hash work: at most `concurrency` KDF runs at once and `maxQueue` waiting.
 * Beyond that a check is refused at once (503) instead of queueing without limit, so a flood of
 * wrong passwords costs the server a bounded amount of CPU and memory.
 */
export class KdfLimiter {
  readonly #concurrency: number
  readonly #maxQueue: number
  readonly #queue: Array<() => void> = []
  #running = 0

  constructor (concurrency: number, maxQueue: number) {
    this.#concurrency = concurrency
    this.#maxQueue = maxQueue
  }

  async run<T> (work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#queue.length >= this.#maxQueue) throw new MCP_AUTH_BUSY()
      await new Promise<void>((resolve) => this.#queue.push(resolve))
    } else {
      this.#running++
    }
    try {
      return await work()
    } finally {
      const next = this.#queue.shift()
      if (next === undefined) this.#running--
      else next()
    }
  }
}
