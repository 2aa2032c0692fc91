// Full mode reservations (dhcp.full.reservations): the reserved MAC always gets its address, in or outside the
// pool range, with its host name; nobody else is ever given or allowed to keep a reserved address.
import t from 'tap'
import { classify, type Classified } from '../../src/dhcp/classify.js'
import { handleFull, type FullOutcome } from '../../src/dhcp/full.js'
import { LeaseTable } from '../../src/dhcp/leases.js'
import { decode, encode } from '../../src/dhcp/packet.js'
import { MessageType, Opt, optString } from '../../src/dhcp/options.js'
import { FULL, SERVER, clientPacket, testConfig, type ClientSpec } from './helpers.js'

const NOW = Date.parse('2026-03-01T10:00:00Z')
const RESERVED_IN = '52:54:00:aa:00:01'    // reserved 10.99.0.105, inside the pool 10.99.0.100–119
const RESERVED_OUT = '52:54:00:aa:00:02'   // reserved 10.99.0.50, outside the range, same subnet
const cfg = testConfig({
  dhcp: {
    mode: 'full',
    full: { ...FULL, reservations: [{ mac: RESERVED_IN, ip: '10.99.0.105', hostname: 'build-01' }, { mac: RESERVED_OUT, ip: '10.99.0.50' }] }
  }
})

function ask (table: LeaseTable, spec: ClientSpec): FullOutcome {
  const c = classify(decode(encode(clientPacket(spec))), 'dhcp', 'full') as Classified
  const out = handleFull(c, cfg, table, NOW)
  if (out.save !== undefined) table.set(out.save)
  return out
}
const mac = (i: number): string => `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`

t.test('the reserved MAC is offered and acknowledged its address, with its host name', async t => {
  const table = new LeaseTable()
  for (const [m, ip, host] of [[RESERVED_IN, '10.99.0.105', 'build-01'], [RESERVED_OUT, '10.99.0.50', undefined]] as const) {
    const offer = ask(table, { mac: m })
    t.equal(offer.reply?.yiaddr, ip, `${m} offered ${ip}`)
    t.equal(optString(offer.reply?.options ?? new Map(), Opt.HOSTNAME), host, 'option 12 only where the reservation names one')
    const ack = ask(table, { mac: m, type: MessageType.REQUEST, requested: ip, serverId: SERVER })
    t.equal(ack.reply?.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.ACK, `${m} ACKed (outside the range too)`)
    t.equal(ack.reply?.yiaddr, ip)
  }
})

t.test('nobody else gets a reserved address, even with the rest of the pool taken', async t => {
  const table = new LeaseTable()
  const given = new Set<string>()
  // 20 addresses in the range, one of them reserved: 19 dynamic clients fill it, the 20th finds it exhausted.
  for (let i = 0; i < 20; i++) {
    const offer = ask(table, { mac: mac(i) })
    if (offer.reply === undefined) {
      t.equal(i, 19, 'exhausted only after 19 dynamic addresses')
      t.equal(offer.reason, 'pool exhausted')
      break
    }
    given.add(offer.reply.yiaddr)
    ask(table, { mac: mac(i), type: MessageType.REQUEST, requested: offer.reply.yiaddr, serverId: SERVER })
  }
  t.equal(given.size, 19)
  t.notOk(given.has('10.99.0.105'), 'the reserved address was never offered to another MAC')
  t.equal(ask(table, { mac: RESERVED_IN }).reply?.yiaddr, '10.99.0.105', 'and is still there for its owner')
})

t.test('another client asking for a reserved address: offered something else, NAKed if it insists', async t => {
  const table = new LeaseTable()
  const offer = ask(table, { mac: mac(1), requested: '10.99.0.105' })
  t.not(offer.reply?.yiaddr, '10.99.0.105')
  const nak = ask(table, { mac: mac(1), type: MessageType.REQUEST, requested: '10.99.0.105', serverId: SERVER })
  t.equal(nak.reply?.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.NAK)
  const reboot = ask(table, { mac: mac(2), type: MessageType.REQUEST, requested: '10.99.0.50' })
  t.notOk(reboot.reply !== undefined && reboot.reply.options.get(Opt.MESSAGE_TYPE)?.[0] === MessageType.ACK, 'INIT-REBOOT into a reserved address is never ACKed')
})

t.test('a reservation added while another client holds that address takes effect when the lease ends', async t => {
  const table = new LeaseTable([{ mac: mac(7), ip: '10.99.0.105', state: 'bound', expiresAt: new Date(NOW + 60_000).toISOString() }])
  const offer = ask(table, { mac: RESERVED_IN })
  t.ok(offer.reply !== undefined && offer.reply.yiaddr !== '10.99.0.105', `meanwhile a dynamic address (${offer.reply?.yiaddr})`)
  const renew = ask(table, { mac: mac(7), type: MessageType.REQUEST, ciaddr: '10.99.0.105' })
  t.equal(renew.reply?.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.NAK, 'the old holder cannot renew a reserved address')
})
