import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { createOwnTokenVerifier, createTokenSigner } from '../../plugins/auth/jwt-signer.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'
import { addCall, post } from '../helpers/client.js'
import { FAST_SCRYPT, JWT_SECRET } from '../helpers/credentials.js'
import { basic, oauthPost } from '../helpers/issuing.js'
import { listen, testConfig } from '../helpers/server.js'

const ISSUER = 'https://calc.test'
const OLD_SECRET = 'the-old-secret-0123456789abcdefghijklmnopq'
const NEW_SECRET = 'the-new-secret-0123456789abcdefghijklmnopq'
const pem = () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
}
const claims = { sub: 'reporting', permissions: ['calculator:add'], ttl: 60_000 }

t.test('the revocation verifier knows every configured key, by kid', async (t) => {
  const before = { issuer: ISSUER, keys: [{ kid: 'old', secret: OLD_SECRET }] }
  const after = { issuer: ISSUER, keys: [{ kid: 'new', secret: NEW_SECRET }, { kid: 'old', secret: OLD_SECRET }] }
  const old = createTokenSigner(before)(claims)
  const current = createTokenSigner(after)(claims)
  const verify = createOwnTokenVerifier(after)
  t.match(verify(old.token), { sub: 'reporting', jti: old.jti, iss: ISSUER }, 'a token signed before the rotation, with a key still configured')
  t.match(verify(current.token), { sub: 'reporting', jti: current.jti }, 'a token signed with the current key')
  t.equal(createOwnTokenVerifier({ issuer: ISSUER, keys: [{ kid: 'new', secret: NEW_SECRET }] })(old.token), undefined, 'once the old key is gone, its tokens are not ours any more')

  const hs = (key: string, kid: string | undefined, payload: Record<string, unknown> = { sub: 'x', iss: ISSUER, exp: 1 }) =>
    createSigner({ key, algorithm: 'HS256', ...(kid === undefined ? {} : { kid }) })(payload)
  t.match(verify(hs(OLD_SECRET, 'old')), { sub: 'x' }, 'expired tokens can be revoked')
  t.equal(verify(hs(OLD_SECRET, 'new')), undefined, 'a kid naming another key')
  t.equal(verify(hs(OLD_SECRET, 'unknown')), undefined, 'an unknown kid')
  t.equal(verify(hs(OLD_SECRET, undefined)), undefined, 'no kid')
  t.equal(verify(hs('another-secret-0123456789abcdefghijklmnop', 'old')), undefined, 'a key this deployment does not have')
  t.equal(verify(hs(OLD_SECRET, 'old', { sub: 'x', iss: 'https://other.test', exp: 1 })), undefined, 'another issuer')
  t.equal(verify(hs(OLD_SECRET, 'old', { sub: 'x', exp: 1 })), undefined, 'no issuer')
  t.equal(verify('not a token'), undefined)
  t.equal(verify(`${Buffer.from('{"alg":"none","kid":"old"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`), undefined, 'alg none')
})

t.test('public keys: the old key may have lost its private half', async (t) => {
  const older = pem()
  const newer = pem()
  const old = createTokenSigner({ algorithms: ['RS256'], issuer: ISSUER, keys: [{ kid: '2026-05', ...older }] })(claims)
  const verify = createOwnTokenVerifier({
    algorithms: ['RS256'],
    issuer: ISSUER,
    keys: [{ kid: '2026-11', ...newer }, { kid: '2026-05', publicKey: older.publicKey }]
  })
  t.match(verify(old.token), { sub: 'reporting', jti: old.jti })
  t.equal(createOwnTokenVerifier({ algorithms: ['RS256'], publicKey: older.publicKey })(old.token), undefined, 'a deployment that cannot sign revokes nothing')
})

t.test('one key, no kid: as before', async (t) => {
  const options = { secret: JWT_SECRET, issuer: ISSUER }
  const token = createTokenSigner(options)(claims)
  t.match(createOwnTokenVerifier(options)(token.token), { jti: token.jti })
})

t.test('end to end: a token issued before a key rotation is revoked after it', async (t) => {
  const secretHash = await hashPassword('reporting secret, 0123456789', FAST_SCRYPT)
  const client = { id: 'reporting', secret: 'reporting secret, 0123456789' }
  const config = (keys: Array<{ kid: string, secret: string }>) => testConfig({
    server: { publicUrl: ISSUER },
    auth: { strategy: 'jwt', jwt: { issuer: ISSUER, keys, issue: { clients: [{ id: client.id, secretHash, permissions: ['calculator:add'] }] } } }
  })
  const before = await listen(config([{ kid: 'old', secret: OLD_SECRET }]))
  const issued = await oauthPost(before.url.origin, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic(client) })
  await before.close()
  const access = String(issued.body.access_token)

  const after = await listen(config([{ kid: 'new', secret: NEW_SECRET }, { kid: 'old', secret: OLD_SECRET }]))
  t.teardown(after.close)
  const mcp = async () => await post(after.url, addCall, { authorization: `Bearer ${access}` })
  t.equal((await mcp()).status, 200, 'the old key still verifies')
  t.equal((await oauthPost(after.url.origin, '/oauth/revoke', { token: access }, { authorization: basic(client) })).status, 200)
  const refused = await mcp()
  t.equal(refused.status, 401, 'revoked')
  t.match(refused.headers.get('www-authenticate'), /error_description="token revoked"/)
})
