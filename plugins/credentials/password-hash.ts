import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/** Default scrypt cost: N=2^14, r=8, p=1 (about 25 ms of CPU here; OWASP's minimum for scrypt). */
export const DEFAULT_SCRYPT = { N: 16384, r: 8, p: 1 } as const

const FORMAT = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

export interface PasswordHash {
  N: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

function scrypt (password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, length, options, (error, key) => error === null ? resolve(key) : reject(error))
  })
}

function costOf (params: { N: number, r: number, p: number }): ScryptOptions {
  return { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 }
}

/**
 * The self-describing hash `hash-password` prints and Basic users and token clients store:
 * `$scrypt$N=16384,r=8,p=1$<salt, base64>$<hash, base64>`.
 */
export async function hashPassword (password: string, params: { N: number, r: number, p: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, 32, costOf(params))
  const b64 = (buffer: Buffer) => buffer.toString('base64').replace(/=+$/, '')
  return `$scrypt$N=${params.N},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`
}

/** Parses a stored hash; undefined when it is not one this module wrote (or its cost is unusable). */
export function parsePasswordHash (value: string): PasswordHash | undefined {
  const match = FORMAT.exec(value)
  if (match === null) return undefined
  const [, n, r, p, salt, hash] = match
  const parsed = { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt ?? '', 'base64'), hash: Buffer.from(hash ?? '', 'base64') }
  const powerOfTwo = parsed.N > 1 && (parsed.N & (parsed.N - 1)) === 0
  if (!powerOfTwo || parsed.N < 1024 || parsed.N > 2 ** 20 || parsed.r < 1 || parsed.r > 32 || parsed.p < 1 || parsed.p > 16) return undefined
  if (parsed.salt.length < 8 || parsed.hash.length < 16) return undefined
  return parsed
}

/** Recomputes the hash with the stored parameters and compares in constant time. */
export async function verifyPassword (password: string, stored: PasswordHash): Promise<boolean> {
  const computed = await scrypt(password, stored.salt, stored.hash.length, costOf(stored))
  return timingSafeEqual(computed, stored.hash)
}
