import t from 'tap'
import { API_KEY } from '../helpers/credentials.js'
import { fuzzDeployment } from '../helpers/fuzz.js'

t.test('api-key: 10,000 generated requests, stateful sessions', async (t) => {
  await fuzzDeployment(t, {
    auth: { strategy: 'api-key', apiKey: { keys: [{ id: 'k', key: API_KEY, permissions: ['*'] }] } },
    valid: { 'x-api-key': API_KEY },
    credentialHeaders: ['x-api-key', 'authorization'],
    secrets: [API_KEY],
    sessions: 'stateful'
  })
})
