import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { TestPki } from './certificates.js'

export type DocumentRoute = (request: IncomingMessage, response: ServerResponse) => void

/**
 * An HTTPS server on 127.0.0.1 that publishes client ID metadata documents (and hostile
 * variants of them): each path answers with its route, and every request is counted.
 */
export class DocumentServer {
  readonly #server: Server
  readonly #routes = new Map<string, DocumentRoute>()
  readonly #hits = new Map<string, number>()
  /** The PEM file that makes the server's certificate trusted (for clientMetadataDocuments.caFile). */
  readonly caFile: string
  origin = ''

  private constructor (server: Server, caFile: string) {
    this.#server = server
    this.caFile = caFile
  }

  static async start (dir: string): Promise<DocumentServer> {
    const pki = await TestPki.create()
    const caFile = join(dir, 'documents-ca.pem')
    writeFileSync(caFile, pki.server.cert)
    const server = createServer({ cert: pki.server.cert, key: pki.server.key })
    const documents = new DocumentServer(server, caFile)
    server.on('request', (request: IncomingMessage, response: ServerResponse) => { documents.#answer(request, response) })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    documents.origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
    return documents
  }

  #answer (request: IncomingMessage, response: ServerResponse): void {
    const path = request.url ?? '/'
    this.#hits.set(path, this.hits(path) + 1)
    const route = this.#routes.get(path)
    if (route === undefined) {
      response.writeHead(404).end()
      return
    }
    route(request, response)
  }

  /** The URL of `path` on this server. */
  url (path: string): string {
    return this.origin + path
  }

  route (path: string, route: DocumentRoute): string {
    this.#routes.set(path, route)
    return this.url(path)
  }

  /** Publishes `document(url)` as JSON at `path`, with `headers`; returns its URL. */
  publish (path: string, document: (url: string) => unknown, headers: Record<string, string> = {}): string {
    const url = this.url(path)
    return this.route(path, (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(document(url)))
    })
  }

  hits (path: string): number {
    return this.#hits.get(path) ?? 0
  }

  async close (): Promise<void> {
    this.#server.closeAllConnections()
    this.#server.close()
    await once(this.#server, 'close')
  }
}
