import t from 'tap'
import { fuzzDeployment } from '../helpers/fuzz.js'

t.test('none: 10,000 generated requests', async (t) => {
  await fuzzDeployment(t, {
    auth: { strategy: 'none' },
    valid: {},
    credentialHeaders: ['authorization'],
    secrets: []
  })
})
