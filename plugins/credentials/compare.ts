import { hash, timingSafeEqual } from 'node:crypto'

export function sha256 (value: string): Buffer {
  return hash('sha256', value, 'buffer')
}

/**
 * A set of secrets held only as SHA-256 digests. Matching hashes the presented value, so both
 * sides always have the same length, and compares it with every entry in constant time without
 * stopping at the first match: neither the content nor the position of a key leaks through timing.
 */
export class SecretSet<T> {
  readonly #entries: ReadonlyArray<{ digest: Buffer, value: T }>

  constructor (entries: ReadonlyArray<{ digest: Buffer, value: T }>) {
    this.#entries = entries
  }

  match (presented: string): T | undefined {
    const digest = sha256(presented)
    let found: T | undefined
    for (const entry of this.#entries) {
      if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry.value
    }
    return found
  }
}
