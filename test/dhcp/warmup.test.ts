// The start-up warm-up runs the real pipeline on datagrams that came out of a real (loopback) socket, and every
// answer goes through the loopback answer function, never to the addresses the packets name (192.0.2.1 relays).
import t from 'tap'
import { warmUpUdp } from '../../src/dhcp/server.js'
import { warmUpPacket, warmUpResponder } from '../../src/dhcp/warmup.js'
import { decode } from '../../src/dhcp/packet.js'
import { MessageType, Opt } from '../../src/dhcp/options.js'
import { staticConfig } from '../../src/config/holder.js'
import { silentLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import type { Store } from '../../src/store/types.js'
import { testConfig } from './helpers.js'

t.test('every synthetic request is handled and answered over loopback only', async t => {
  const ctx = { config: staticConfig(testConfig()), store: {} as Store, log: silentLogger, clock: systemClock }
  const froms = new Set<string>()
  const answers: Buffer[] = []
  let handled = 0
  await warmUpUdp(200, warmUpPacket, async (msg, from, answer) => {
    froms.add(from.address)
    const r = warmUpResponder(ctx, async (buf) => { answers.push(buf); await answer(buf) })
    await r.handle(msg, from, 'dhcp')
    handled++
  })
  t.equal(handled, 200)
  t.same([...froms], ['127.0.0.1'], 'requests arrived from the loopback client socket')
  t.equal(answers.length, 200, 'the pipeline answered every PXE request (its replies went to the loopback client)')
  t.equal(decode(answers[0]).options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.OFFER)
})
