import { createServer } from 'node:net'

/**
 * A loopback port free right now, for a server whose own URL must be in its config before it
 * listens (redis-server; an issuer URL clients discover). Another process could take it in
 * between: acceptable for tests on loopback.
 */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}
