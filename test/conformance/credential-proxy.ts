import { createServer, request as forward, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface CredentialProxy {
  url: string
  close: () => Promise<void>
}

/**
 * A loopback proxy that adds a credential to every request and passes everything else through
 * untouched and unbuffered: the Host and Origin headers (so the server's DNS-rebinding rules see
 * what the client sent), every `Mcp-*` header, error statuses, and SSE streams as they are written.
 * The conformance suite sends no credentials; this puts it behind the server's real auth.
 */
export async function startCredentialProxy (upstream: URL, credential: Record<string, string>): Promise<CredentialProxy> {
  const server: Server = createServer((incoming, outgoing) => {
    const upstreamRequest = forward({
      host: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      headers: { ...incoming.headers, ...credential }
    }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(outgoing)
    })
    upstreamRequest.on('error', () => { if (!outgoing.headersSent) outgoing.writeHead(502).end(); else outgoing.destroy() })
    // A client that goes away (how a 2026-07-28 client cancels) takes the upstream request with it.
    outgoing.on('close', () => { if (!outgoing.writableFinished) upstreamRequest.destroy() })
    incoming.pipe(upstreamRequest)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
