import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { loadConfigFile } from '../../deployment.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { FAST_SCRYPT, JWT_SECRET } from './credentials.js'
import { freePort } from './ports.js'
import { listen, type TestServer } from './server.js'

export const OAUTH_CONFIG = fileURLToPath(new URL('../../config/oauth.yaml', import.meta.url))

export interface OAuthServer extends TestServer {
  /** `http://127.0.0.1:<port>`: the public URL, the issuer, and where the browser goes. */
  origin: string
}

/**
 * `npm start -- --config config/oauth.yaml` as the docs tell a new user to run it: the shipped
 * file, read with the environment it documents. The port is picked first because the public URL
 * (issuer, resource, redirect targets) must name it before the server listens.
 */
export async function startOAuthServer ({ username, password }: { username: string, password: string }): Promise<OAuthServer> {
  if (!existsSync(OAUTH_CONFIG)) throw new Error(`${OAUTH_CONFIG} is missing: the browser login flow needs the authorization server's config`)
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const config = loadConfigFile(OAUTH_CONFIG, {
    env: {
      PORT: String(port),
      MCP_PUBLIC_URL: origin,
      JWT_SECRET,
      LOGIN_USER: username,
      LOGIN_PASSWORD_HASH: await hashPassword(password, FAST_SCRYPT)
    }
  })
  const server = await listen(config)
  return { ...server, origin }
}
