import t from 'tap'
import { BEARER_TOKEN } from '../helpers/credentials.js'
import { fuzzDeployment } from '../helpers/fuzz.js'

t.test('bearer: 10,000 generated requests', async (t) => {
  await fuzzDeployment(t, {
    auth: { strategy: 'bearer', bearer: { tokens: [{ id: 't', token: BEARER_TOKEN, permissions: ['*'] }] } },
    valid: { authorization: `Bearer ${BEARER_TOKEN}` },
    credentialHeaders: ['authorization'],
    secrets: [BEARER_TOKEN]
  })
})
