import t from 'tap'
import { JWT_SECRET, jwtFor, jwtSection } from '../helpers/credentials.js'
import { fuzzDeployment } from '../helpers/fuzz.js'

t.test('jwt: 10,000 generated requests, odd claims correctly signed among them', async (t) => {
  const token = jwtFor('alice', ['*'], 3_600_000)
  await fuzzDeployment(t, {
    auth: { strategy: 'jwt', jwt: jwtSection },
    valid: { authorization: `Bearer ${token}` },
    credentialHeaders: ['authorization'],
    secrets: [JWT_SECRET, token, token.split('.')[2] ?? token]
  })
})
