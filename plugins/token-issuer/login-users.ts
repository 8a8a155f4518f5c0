import { HashedSecretVerifier } from '../credentials/hashed-secrets.js'

export interface LoginUser {
  username: string
  permissions: readonly string[]
}

export interface LoginUsers {
  /**
   * The user when `password` is theirs, else undefined. `beforeWork` runs before the KDF does
   * (the failed-auth throttle's beforeCostlyCheck): what it throws refuses the attempt.
   */
  verify: (username: string, password: string, beforeWork?: () => Promise<void>) => Promise<LoginUser | undefined>
  /** A user's permissions in the config today; undefined once they are gone. */
  permissionsOf: (username: string) => readonly string[] | undefined
}

/**
 * The people who sign in on the login page: scrypt hashes checked like Basic users' passwords
 * (unknown names cost a KDF run too, concurrent checks share one, KDF work is bounded).
 */
export function createLoginUsers (users: ReadonlyArray<{ username: string, passwordHash: string, permissions: readonly string[] }>): LoginUsers {
  const verifier = new HashedSecretVerifier<LoginUser>(
    users.map((user) => [user.username, user.passwordHash, Object.freeze({ username: user.username.normalize('NFC'), permissions: Object.freeze([...user.permissions]) })]),
    // No cache: a sign-in is rare, and a cached password would outlive a changed hash.
    { cacheTtl: 0, cacheSize: 1, kdfConcurrency: 2, kdfQueue: 32 }
  )
  const permissions = new Map(users.map((user) => [user.username.normalize('NFC'), user.permissions]))
  return {
    verify: async (username, password, beforeWork) => await verifier.verify(username, password, beforeWork),
    permissionsOf: (username) => permissions.get(username.normalize('NFC'))
  }
}
