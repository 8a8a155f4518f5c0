import t from 'tap'
import { consentKey, RememberedConsent } from '../../plugins/token-issuer/consents.js'
import { MemoryTokenStore } from '../../plugins/token-store/index.js'
import { sha256 } from '../../plugins/credentials/compare.js'

// Remembered consent in the token store: the key layout earlier versions wrote keeps working, and
// revoking all of a user's consent (a new epoch) reaches every client without listing them.

const DAY = 24 * 60 * 60_000

t.test('consent written under the earlier key layout is read, and forgotten', async (t) => {
  const store = new MemoryTokenStore()
  t.teardown(async () => { await store.close() })
  t.equal(consentKey('desktop', 'ada'), `consent:${sha256('desktop\0ada').toString('base64url')}`, 'the documented key, before any revocation of all')
  await store.put(consentKey('desktop', 'ada'), JSON.stringify(['calculator:add']), DAY)
  const consents = new RememberedConsent(store)
  t.same(await consents.scopes('desktop', 'ada'), ['calculator:add'])
  t.same(await consents.forget('desktop', 'ada'), ['calculator:add'], 'forget answers what it removed')
  t.same(await consents.scopes('desktop', 'ada'), [])
  t.same(await consents.forget('desktop', 'ada'), [], 'nothing left to forget')
})

t.test('forgetAll: every client of one user; usernames compared as NFC', async (t) => {
  const store = new MemoryTokenStore()
  t.teardown(async () => { await store.close() })
  const consents = new RememberedConsent(store)
  const decomposed = 'Zoe\u0308'
  const composed = 'Zo\u00eb'
  await consents.remember('desktop', decomposed, ['calculator:add'], DAY)
  await consents.remember('dyn_abc', composed, ['calculator:*'], DAY)
  await consents.remember('desktop', 'ada', ['calculator:add'], DAY)
  t.same(await consents.scopes('desktop', composed), ['calculator:add'], 'one user, however the name is encoded')
  await consents.forgetAll(decomposed, DAY)
  t.same([await consents.scopes('desktop', composed), await consents.scopes('dyn_abc', composed)], [[], []])
  t.same(await consents.scopes('desktop', 'ada'), ['calculator:add'], 'another user keeps hers')
  await consents.remember('desktop', composed, ['calculator:multiply'], DAY)
  t.same(await consents.scopes('desktop', composed), ['calculator:multiply'], 'consent given afterwards is remembered')
  await consents.forgetAll(composed, DAY)
  t.same(await consents.scopes('desktop', composed), [], 'and a second revocation forgets it too')
})

t.test('consentTtl 0: nothing is remembered, nothing to revoke', async (t) => {
  const store = new MemoryTokenStore()
  t.teardown(async () => { await store.close() })
  const consents = new RememberedConsent(store)
  await consents.remember('desktop', 'ada', ['calculator:add'], 0)
  t.same(await consents.scopes('desktop', 'ada'), [])
  await consents.forgetAll('ada', 0)
  t.equal(await store.get(consentKey('desktop', 'ada')), undefined)
})

t.test('a revocation of all outlives consent written under a longer consentTtl than the one it was given', async (t) => {
  let now = 0
  const store = new MemoryTokenStore({ now: () => now })
  t.teardown(async () => { await store.close() })
  const consents = new RememberedConsent(store)
  await consents.remember('desktop', 'ada', ['calculator:add'], 90 * DAY)
  await consents.forgetAll('ada', 30 * DAY)
  now = 31 * DAY
  t.same(await consents.scopes('desktop', 'ada'), [], 'the 90-day consent stays revoked after 30 days')
  now = 89 * DAY
  t.same(await consents.scopes('desktop', 'ada'), [], 'and until it expires')
})
