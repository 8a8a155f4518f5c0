import { randomBytes } from 'node:crypto'
import { sha256 } from '../plugins/credentials/compare.js'

/** A new random key (256 bits, base64url) and the hex SHA-256 to put in a config's `sha256` field. */
export function generateKey (): { key: string, sha256: string } {
  const key = randomBytes(32).toString('base64url')
  return { key, sha256: sha256(key).toString('hex') }
}
