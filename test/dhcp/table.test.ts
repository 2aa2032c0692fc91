// Table tests: arch × iPXE × relayed × proxy/full → boot file, options 60/43/54/97, yiaddr, destination.
import t from 'tap'
import { classify, type Classified } from '../../src/dhcp/classify.js'
import { buildProxyReply } from '../../src/dhcp/proxy.js'
import { handleFull } from '../../src/dhcp/full.js'
import { LeaseTable } from '../../src/dhcp/leases.js'
import { replyDestination } from '../../src/dhcp/route.js'
import { decode, encode, type DhcpPacket } from '../../src/dhcp/packet.js'
import { MessageType, Opt, decodePxeVendorOptions, encodePxeVendorOptions, optIp, optString } from '../../src/dhcp/options.js'
import { FULL, SERVER, clientPacket, testConfig } from './helpers.js'

const HTTP = `http://${SERVER}:8080`
const expectedFile: Record<number, string | undefined> = {
  0: 'undionly.kpxe', 6: 'ipxe-ia32.efi', 7: 'ipxe.efi', 9: 'ipxe.efi', 11: 'ipxe-arm64.efi',
  16: `${HTTP}/loaders/ipxe.efi`, 19: `${HTTP}/loaders/ipxe-arm64.efi`, 99: undefined
}
const RELAY = '10.50.0.1'
const RELAY_INFO = Buffer.from([1, 4, 0, 0, 0, 7])   // RFC 3046 circuit id

for (const mode of ['proxy', 'full'] as const) {
  for (const arch of [0, 6, 7, 9, 11, 16, 19, 99]) {
    for (const ipxe of [false, true]) {
      for (const relayed of [false, true]) {
        t.test(`${mode} arch ${arch} ${ipxe ? 'iPXE' : 'firmware'} ${relayed ? 'relayed' : 'local'}`, async t => {
          const cfg = testConfig({ dhcp: { mode, full: mode === 'full' ? FULL : undefined } })
          const req = clientPacket({ arch, ipxe, giaddr: relayed ? RELAY : undefined, relayInfo: relayed ? RELAY_INFO : undefined })
          // Over the wire and back, as the server sees it.
          const c = classify(decode(encode(req)), 'dhcp', mode)
          if (arch === 99 && mode === 'proxy') {
            t.match(c, { kind: 'ignore', reason: 'unsupported-arch' }, 'proxy: unknown arch → silent')
            return
          }
          t.equal(c.kind, 'request')
          const cl = c as Classified
          t.equal(cl.relayed, relayed)
          let reply: DhcpPacket | undefined
          if (mode === 'proxy') reply = buildProxyReply(cl, cfg)
          else reply = handleFull(cl, cfg, new LeaseTable(), Date.parse('2026-01-01T00:00:00Z')).reply
          t.ok(reply, 'replies')
          const r = decode(encode(reply as DhcpPacket))
          t.equal(r.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.OFFER)
          t.equal(optIp(r.options, Opt.SERVER_ID), SERVER, 'option 54')
          t.equal(r.xid, req.xid)
          if (mode === 'proxy') t.equal(r.yiaddr, '0.0.0.0', 'proxy offers no address')
          else t.equal(r.yiaddr, '10.99.0.100', 'full: first pool address')
          const want = ipxe && arch !== 99 ? `${HTTP}/boot.ipxe` : expectedFile[arch]
          if (want === undefined) {
            t.equal(r.file, '', 'unknown arch in full mode: address only, no boot file')
            t.notOk(r.options.has(Opt.VENDOR_CLASS))
          } else {
            t.equal(r.file, want, 'boot file')
            t.equal(r.siaddr, SERVER, 'next-server')
            const http = arch === 16 || arch === 19
            t.equal(optString(r.options, Opt.VENDOR_CLASS), http ? 'HTTPClient' : 'PXEClient', 'option 60')
            t.equal(r.options.has(Opt.VENDOR_SPECIFIC), !http, 'option 43 only for PXEClient')
            t.same(r.options.get(Opt.CLIENT_UUID), req.options.get(Opt.CLIENT_UUID), 'option 97 echoed')
          }
          t.equal(r.options.has(Opt.RELAY_AGENT), relayed, 'option 82 echoed to relays only')
          t.equal(r.giaddr, relayed ? RELAY : '0.0.0.0')
          const to = replyDestination(req, 'dhcp', { address: relayed ? RELAY : '0.0.0.0', port: relayed ? 67 : 68 }, { dhcp: 67, dhcpClient: 68 })
          t.same(to, relayed ? { address: RELAY, port: 67, broadcast: false } : { address: '255.255.255.255', port: 68, broadcast: true }, 'RFC 2131 §4.1 routing')
        })
      }
    }
  }
}

t.test('proxy: 4011 REQUEST → ACK unicast to the sender address:port', async t => {
  const cfg = testConfig()
  const req = clientPacket({ type: MessageType.REQUEST, arch: 7, ciaddr: '192.168.1.20' })
  const c = classify(req, 'proxy', 'proxy') as Classified
  const r = buildProxyReply(c, cfg) as DhcpPacket
  t.equal(r.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.ACK)
  t.equal(r.file, 'ipxe.efi')
  t.equal(r.ciaddr, '192.168.1.20', 'ACK keeps ciaddr (RFC 2131 Table 3)')
  t.same(replyDestination(req, 'proxy', { address: '192.168.1.20', port: 4011 }, { dhcp: 67, dhcpClient: 68 }),
    { address: '192.168.1.20', port: 4011, broadcast: false })
})

t.test('proxy: a 4011 boot server REQUEST naming a boot item (43.71) gets it back in the ACK', async t => {
  const cfg = testConfig()
  const req = clientPacket({ type: MessageType.REQUEST, arch: 0, ciaddr: '192.168.1.21' })
  // PXE spec 2.1 §2.2.6: type 0x8000 (vendor item), layer 0, as a BIOS ROM sends it after a boot menu choice
  req.options.set(Opt.VENDOR_SPECIFIC, encodePxeVendorOptions({ bootItem: { type: 0x8000, layer: 0 } }))
  const r = decode(encode(buildProxyReply(classify(decode(encode(req)), 'proxy', 'proxy') as Classified, cfg) as DhcpPacket))
  t.equal(r.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.ACK)
  t.equal(r.file, 'undionly.kpxe')
  t.same(decodePxeVendorOptions(r.options.get(Opt.VENDOR_SPECIFIC) as Buffer), { discoveryControl: 8, bootItem: { type: 0x8000, layer: 0 } })

  const plain = buildProxyReply(classify(clientPacket({ type: MessageType.REQUEST, arch: 0, ciaddr: '192.168.1.21' }), 'proxy', 'proxy') as Classified, cfg) as DhcpPacket
  t.same(decodePxeVendorOptions(plain.options.get(Opt.VENDOR_SPECIFIC) as Buffer), { discoveryControl: 8 }, 'no item asked, none echoed')

  const bad = clientPacket({ type: MessageType.REQUEST, arch: 0, ciaddr: '192.168.1.21' })
  bad.options.set(Opt.VENDOR_SPECIFIC, Buffer.from([71, 3, 0x80, 0, 0, 255]))   // item of 3 bytes: malformed
  const rb = buildProxyReply(classify(bad, 'proxy', 'proxy') as Classified, cfg) as DhcpPacket
  t.same(decodePxeVendorOptions(rb.options.get(Opt.VENDOR_SPECIFIC) as Buffer), { discoveryControl: 8 }, 'a malformed item is not echoed')
})

t.test('routing per RFC 2131 §4.1', async t => {
  const ports = { dhcp: 67, dhcpClient: 68 }
  const from = { address: '0.0.0.0', port: 68 }
  t.same(replyDestination(clientPacket({ ciaddr: '10.1.1.5' }), 'dhcp', from, ports), { address: '10.1.1.5', port: 68, broadcast: false }, 'ciaddr → unicast')
  t.same(replyDestination(clientPacket({ ciaddr: '10.1.1.5', flags: 0x8000 }), 'dhcp', from, ports), { address: '10.1.1.5', port: 68, broadcast: false }, 'ciaddr wins over the broadcast flag')
  t.same(replyDestination(clientPacket({ flags: 0x8000 }), 'dhcp', from, ports), { address: '255.255.255.255', port: 68, broadcast: true }, 'broadcast flag → broadcast')
  t.same(replyDestination(clientPacket({ ciaddr: '10.1.1.5' }), 'dhcp', from, ports, true), { address: '255.255.255.255', port: 68, broadcast: true }, 'NAK → broadcast')
  t.same(replyDestination(clientPacket({ giaddr: RELAY }), 'dhcp', from, ports, true), { address: RELAY, port: 67, broadcast: false }, 'relayed NAK → relay')
})

t.test('what proxy mode does not answer', async t => {
  const cases: Array<[string, DhcpPacket, 'dhcp' | 'proxy', string]> = [
    ['non-PXE DISCOVER', clientPacket({ vendorClass: 'MSFT 5.0', arch: null }), 'dhcp', 'not-pxe'],
    ['no vendor class', clientPacket({ vendorClass: null }), 'dhcp', 'not-pxe'],
    ['REQUEST on 67 (the site server owns it)', clientPacket({ type: MessageType.REQUEST }), 'dhcp', 'unexpected-message'],
    ['DISCOVER on 4011', clientPacket(), 'proxy', 'unexpected-message'],
    ['RELEASE', clientPacket({ type: MessageType.RELEASE }), 'dhcp', 'unexpected-message'],
    ['arch 10 (no ARM32 loader)', clientPacket({ arch: 10 }), 'dhcp', '']
  ]
  const cfg = testConfig()
  for (const [name, p, via, reason] of cases) {
    const c = classify(p, via, 'proxy')
    if (reason !== '') t.match(c, { kind: 'ignore', reason }, name)
    else t.equal(c.kind === 'request' ? buildProxyReply(c, cfg) : 'ignored', undefined, name)
  }
  const noBootp = clientPacket(); noBootp.options.delete(Opt.MESSAGE_TYPE)
  t.match(classify(noBootp, 'dhcp', 'proxy'), { reason: 'not-dhcp' }, 'plain BOOTP')
  const tr = clientPacket(); tr.htype = 6
  t.match(classify(tr, 'dhcp', 'proxy'), { reason: 'not-ethernet' })
})

t.test('arch from the vendor class when option 93 is missing (old PXE ROMs)', async t => {
  const c = classify(clientPacket({ arch: null, vendorClass: 'PXEClient:Arch:00007:UNDI:003000' }), 'dhcp', 'proxy')
  t.match(c, { pxe: { arch: 'efi-x64', archCode: 7 } })
  t.match(classify(clientPacket({ arch: null, vendorClass: 'PXEClient' }), 'dhcp', 'proxy'), { pxe: { arch: 'bios' } })
})

t.test('a boot URL longer than the file field goes in option 67', async t => {
  const cfg = { ...testConfig(), httpBaseUrl: 'http://' + 'x'.repeat(130) }
  const r = buildProxyReply(classify(clientPacket({ ipxe: true }), 'dhcp', 'proxy') as Classified, cfg as any) as DhcpPacket
  t.equal(r.file, '')
  t.equal(optString(r.options, Opt.BOOTFILE), `http://${'x'.repeat(130)}/boot.ipxe`)
})

t.test('bootLoaders.secureBoot: x86-64 UEFI gets shim (TFTP or HTTP Boot), every other arch and iPXE what it had', async t => {
  const want: Record<number, string | undefined> = {
    ...expectedFile, 7: 'secureboot/shimx64.efi', 9: 'secureboot/shimx64.efi', 16: `${HTTP}/secureboot/shimx64.efi`
  }
  for (const mode of ['proxy', 'full'] as const) {
    const cfg = testConfig({ dhcp: { mode, full: mode === 'full' ? FULL : undefined }, bootLoaders: { secureBoot: true } })
    for (const arch of [0, 6, 7, 9, 11, 16, 19]) {
      for (const ipxe of [false, true]) {
        const c = classify(decode(encode(clientPacket({ arch, ipxe }))), 'dhcp', mode) as Classified
        const reply = mode === 'proxy' ? buildProxyReply(c, cfg) : handleFull(c, cfg, new LeaseTable(), Date.parse('2026-01-01T00:00:00Z')).reply
        const r = decode(encode(reply as DhcpPacket))
        t.equal(r.file, ipxe ? `${HTTP}/boot.ipxe` : want[arch], `${mode} arch ${arch}${ipxe ? ' iPXE' : ''}`)
      }
    }
  }
})
