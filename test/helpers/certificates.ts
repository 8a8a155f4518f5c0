import { X509Certificate } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import selfsigned from 'selfsigned'
import { Agent, fetch as undiciFetch } from 'undici'

const DAY = 86_400_000

export interface Pems { cert: string, key: string }

/** A client certificate's PEMs, with the forms a proxy would forward it in. */
export interface ClientCertificate extends Pems {
  /** SHA-256 fingerprint as OpenSSL prints it (upper case, colons). */
  fingerprint: string
  /** RFC 9440 `Client-Cert` value: `:<base64 DER>:`. */
  rfc9440: string
}

export interface ClientCertificateOptions {
  subject?: Record<string, string>
  /** selfsigned altNames: type 1 email, 2 DNS, 6 URI, 7 IP. */
  altNames?: Array<{ type: 1 | 2 | 6 | 7, value?: string, ip?: string }>
  notBefore?: Date
  notAfter?: Date
}

/** selfsigned takes short attribute names (CN, O, OU, C) as they are. */
function attributes (subject: Record<string, string>): Array<{ name: string, value: string }> {
  return Object.entries(subject).map(([name, value]) => ({ name, value }))
}

/** A certificate authority that signs client certificates, and the server's own certificate (EC keys: fast). */
export class TestPki {
  readonly ca: Pems
  readonly server: Pems

  private constructor (ca: Pems, server: Pems) {
    this.ca = ca
    this.server = server
  }

  static async create (name = 'Test Client CA'): Promise<TestPki> {
    const ca = await selfsigned.generate([{ name: 'commonName', value: name }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + DAY),
      extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
    })
    const server = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + DAY),
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }]
    })
    return new TestPki({ cert: ca.cert, key: ca.private }, { cert: server.cert, key: server.private })
  }

  async issue (options: ClientCertificateOptions = {}): Promise<ClientCertificate> {
    const pems = await selfsigned.generate(attributes(options.subject ?? { CN: 'agent-7' }), {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: options.notBefore ?? new Date(Date.now() - 60_000),
      notAfterDate: options.notAfter ?? new Date(Date.now() + DAY),
      ca: { key: this.ca.key, cert: this.ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
        ...(options.altNames === undefined ? [] : [{ name: 'subjectAltName' as const, altNames: options.altNames }])
      ]
    })
    const x509 = new X509Certificate(pems.cert)
    return { cert: pems.cert, key: pems.private, fingerprint: x509.fingerprint256, rfc9440: `:${x509.raw.toString('base64')}:` }
  }

  /** Writes the server's key and certificate and the CA to `dir`, for `server.tls`. */
  tlsFiles (dir: string): { certFile: string, keyFile: string, caFile: string } {
    const files = { certFile: join(dir, 'server-cert.pem'), keyFile: join(dir, 'server-key.pem'), caFile: join(dir, 'client-ca.pem') }
    writeFileSync(files.certFile, this.server.cert)
    writeFileSync(files.keyFile, this.server.key)
    writeFileSync(files.caFile, this.ca.cert)
    return files
  }

  /** A fetch that trusts this server's certificate and presents `client` (if any) in the handshake. */
  fetchWith (client?: Pems): { fetch: typeof fetch, close: () => Promise<void> } {
    const dispatcher = new Agent({ connect: { ca: this.server.cert, ...(client === undefined ? {} : { cert: client.cert, key: client.key }) } })
    const tlsFetch: typeof fetch = async (input, init) => {
      const response = await undiciFetch(input instanceof Request ? input.url : input, { ...init, dispatcher } as Parameters<typeof undiciFetch>[1])
      return response as unknown as Response
    }
    return { fetch: tlsFetch, close: async () => { await dispatcher.close() } }
  }
}
