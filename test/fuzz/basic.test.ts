import t from 'tap'
import { BASIC_PASSWORD, BASIC_USER, FAST_SCRYPT, basicHeader } from '../helpers/credentials.js'
import { fuzzDeployment } from '../helpers/fuzz.js'
import { hashPassword } from '../../plugins/credentials/password-hash.js'

t.test('basic: 10,000 generated requests', async (t) => {
  const passwordHash = await hashPassword(BASIC_PASSWORD, FAST_SCRYPT)
  const valid = basicHeader(BASIC_USER, BASIC_PASSWORD)
  await fuzzDeployment(t, {
    auth: { strategy: 'basic', basic: { users: [{ username: BASIC_USER, passwordHash, permissions: ['*'] }], kdfQueue: 1000 } },
    valid: { authorization: valid },
    credentialHeaders: ['authorization'],
    secrets: [BASIC_PASSWORD, valid.slice('Basic '.length)]
  })
})
