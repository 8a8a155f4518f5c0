import type { StoreEntry, TokenStore } from './store.js'

/**
 * The default store: a Map in this process. Right for one instance; with several, each would
 * have its own refresh tokens and revocations (use Redis). Expired entries are dropped when read
 * and by a periodic sweep.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #entries = new Map<string, { value: string, expires: number }>()
  readonly #now: () => number
  readonly #sweeper: NodeJS.Timeout

  constructor (options: { now?: () => number, sweepInterval?: number } = {}) {
    this.#now = options.now ?? Date.now
    this.#sweeper = setInterval(() => this.sweep(), options.sweepInterval ?? 60_000)
    this.#sweeper.unref()
  }

  get size (): number {
    return this.#entries.size
  }

  #live (key: string): string | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expires <= this.#now()) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value
  }

  async get (key: string): Promise<string | undefined> {
    return this.#live(key)
  }

  async anyExists (keys: readonly string[]): Promise<boolean> {
    return keys.some((key) => this.#live(key) !== undefined)
  }

  #set (key: string, value: string, ttlMs: number): void {
    if (ttlMs > 0) this.#entries.set(key, { value, expires: this.#now() + ttlMs })
  }

  async put (key: string, value: string, ttlMs: number): Promise<void> {
    this.#set(key, value, ttlMs)
  }

  async delete (key: string): Promise<void> {
    this.#entries.delete(key)
  }

  async take (key: string): Promise<string | undefined> {
    const value = this.#live(key)
    this.#entries.delete(key)
    return value
  }

  // Synchronous from the read to the last write: no other request runs in between.
  async swap (key: string, writes: readonly StoreEntry[]): Promise<string | undefined> {
    const value = this.#live(key)
    if (value === undefined) return undefined
    this.#entries.delete(key)
    for (const entry of writes) this.#set(entry.key, entry.value, entry.ttlMs)
    return value
  }

  async rememberOnce (key: string, ttlMs: number): Promise<boolean> {
    if (this.#live(key) !== undefined) return false
    this.#set(key, '1', Math.max(1, Math.ceil(ttlMs)))
    return true
  }

  async ready (): Promise<boolean> {
    return true
  }

  sweep (): void {
    const now = this.#now()
    for (const [key, entry] of this.#entries) if (entry.expires <= now) this.#entries.delete(key)
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    this.#entries.clear()
  }
}
