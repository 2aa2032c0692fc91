import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { decode, encode, DhcpDecodeError, BOOTP_MIN_LENGTH, HEADER_LENGTH } from '../../src/dhcp/packet.js'
import { describe } from '../../src/dhcp/format.js'
import {
  Opt, optClientUuid, optUserClasses, optClientArch, encodePxeVendorOptions, decodePxeVendorOptions
} from '../../src/dhcp/options.js'
import { classify } from '../../src/dhcp/classify.js'
import { clientPacket } from './helpers.js'

const dir = new URL('../fixtures/dhcp/', import.meta.url).pathname
const fixtures = readdirSync(dir).filter(f => f.endsWith('.bin')).sort()

t.test('golden packets from real clients', async t => {
  t.ok(fixtures.length >= 29, 'all captured fixtures present')
  for (const f of fixtures) {
    const raw = readFileSync(join(dir, f))
    const p = decode(raw)
    t.equal(describe(p), readFileSync(join(dir, f.replace(/\.bin$/, '.parsed')), 'utf8'), `${f} decodes to its .parsed`)
    // Byte-exact: every captured client pads after END with zeros and splits nothing, so only the total
    // length (which encode pads to) has to be given.
    t.ok(encode(p, { minLength: raw.length }).equals(raw), `${f} round-trips byte for byte`)
  }
})

t.test('what the firmware told us, as the classifier sees it', async t => {
  const load = (f: string) => decode(readFileSync(join(dir, f)))
  const bios = classify(load('bios-1-discover.bin'), 'dhcp', 'proxy')
  t.match(bios, { kind: 'request', pxe: { arch: 'bios', archCode: 0, isIpxe: true, uuid: '8a2f6d1e-3b4c-4d5e-9f60-7a8b9c0d1e2f' } },
    'SeaBIOS iPXE ROM: BIOS, already iPXE, option 97 decodes to QEMU -uuid')
  const ovmf = classify(load('ovmf-1-discover.bin'), 'dhcp', 'proxy')
  t.match(ovmf, { kind: 'request', pxe: { arch: 'efi-x64', archCode: 7, isIpxe: false, uuid: '5c0a1b2c-3d4e-4f50-8162-738495a6b7c8' } },
    'OVMF PXE: EFI x64, not iPXE')
  t.match(classify(load('ovmf-2-discover.bin'), 'dhcp', 'proxy'), { pxe: { arch: 'efi-x64', isIpxe: true } }, 'chained ipxe.efi is iPXE')
  t.match(classify(load('aavmf-1-discover.bin'), 'dhcp', 'proxy'), { kind: 'request', pxe: { arch: 'efi-arm64', archCode: 11, isIpxe: false, uuid: '3e7b9c10-2a4d-4b6f-8c1e-5d2f7a9b0c31' } },
    'AAVMF arm64 PXE: arch 11 and the -uuid QEMU was given')
  t.match(classify(load('ovmf32-1-discover.bin'), 'dhcp', 'proxy'), { kind: 'request', pxe: { arch: 'efi-ia32', archCode: 6, isIpxe: false, uuid: '9d4c2e61-7f0a-4b3c-a5d8-1e6f0b2c4d75' } },
    'OVMF IA32 PXE: arch 6 and the -uuid QEMU was given')
  t.match(classify(load('ovmfhttp-1-discover.bin'), 'dhcp', 'proxy'), { kind: 'request', pxe: { arch: 'efi-x64-http', archCode: 16, httpBoot: true, isIpxe: false, uuid: '6b1f3a2c-9e4d-4c7a-b2e5-0f8d1c3a5e97' } },
    'OVMF UEFI HTTP Boot: arch 16, HTTPClient, the -uuid QEMU was given')
  t.match(classify(load('perfdhcp-1-discover.bin'), 'dhcp', 'proxy'), { relayed: true, pxe: { arch: 'efi-x64' } }, 'perfdhcp relays')
  t.match(classify(load('bios-1-offer.bin'), 'dhcp', 'proxy'), { kind: 'ignore', reason: 'not-a-request' }, "another server's OFFER is ignored")
})

t.test('encode pads to the 300-byte BOOTP minimum and puts option 53 first', async t => {
  const p = clientPacket()
  p.options = new Map([[Opt.VENDOR_CLASS, Buffer.from('PXEClient')], [Opt.MESSAGE_TYPE, Buffer.from([1])]])
  const b = encode(p)
  t.equal(b.length, BOOTP_MIN_LENGTH)
  t.same([...b.subarray(HEADER_LENGTH + 4, HEADER_LENGTH + 7)], [53, 1, 1], 'message type leads')
  t.equal(b[HEADER_LENGTH + 7 + 11], 255, 'END after the options')
})

t.test('RFC 3396 long options: split on encode, joined on decode', async t => {
  const p = clientPacket()
  const long = Buffer.alloc(600, 0x41)
  p.options.set(Opt.BOOTFILE, long)
  const b = encode(p)
  const q = decode(b)
  t.ok(q.options.get(Opt.BOOTFILE)?.equals(long), '600 bytes come back whole')
  let instances = 0
  for (let i = HEADER_LENGTH + 4; i < b.length && b[i] !== 255;) { if (b[i] === Opt.BOOTFILE) instances++; i += b[i] === 0 ? 1 : 2 + b[i + 1] }
  t.equal(instances, 3, 'split into 255 + 255 + 90')
})

t.test('option overload (RFC 2132 §9.3): options in file and sname are read, file first', async t => {
  const b = Buffer.alloc(300)
  b[0] = 1; b[1] = 1; b[2] = 6
  b.writeUInt32BE(0x63825363, 236)
  Buffer.from([53, 1, 1, 52, 1, 3, 255]).copy(b, 240)
  Buffer.from([60, 9, ...Buffer.from('PXEClient'), 255]).copy(b, 108)  // file
  Buffer.from([93, 2, 0, 7, 255]).copy(b, 44)                           // sname
  const p = decode(b)
  t.equal(p.options.get(Opt.VENDOR_CLASS)?.toString(), 'PXEClient')
  t.same(optClientArch(p.options), [7])
  t.equal(p.file, ''); t.equal(p.sname, '')
  t.notOk(p.options.has(Opt.OVERLOAD), 'option 52 consumed')
  b[242 + 3] = 9
  t.throws(() => decode(b), { code: 'NB_ERR_DHCP_BAD_OPTION' }, 'overload value 9 is malformed')
})

t.test('typed decode errors with offsets', async t => {
  const good = encode(clientPacket())
  const cases: Array<[string, Buffer, string, number]> = [
    ['empty', Buffer.alloc(0), 'NB_ERR_DHCP_TRUNCATED', 0],
    ['cut in chaddr', good.subarray(0, 30), 'NB_ERR_DHCP_TRUNCATED', 28],
    ['bad op', Buffer.concat([Buffer.from([7]), good.subarray(1)]), 'NB_ERR_DHCP_BAD_OP', 0],
    ['hlen 17', Buffer.concat([good.subarray(0, 2), Buffer.from([17]), good.subarray(3)]), 'NB_ERR_DHCP_BAD_HLEN', 2],
    ['no cookie', Buffer.concat([good.subarray(0, 236), Buffer.from([1, 2, 3, 4]), good.subarray(240)]), 'NB_ERR_DHCP_BAD_COOKIE', 236],
    ['option overruns', Buffer.concat([good.subarray(0, 240), Buffer.from([60, 50, 1, 2])]), 'NB_ERR_DHCP_TRUNCATED', 242]
  ]
  for (const [name, buf, code, offset] of cases) {
    try {
      decode(buf)
      t.fail(`${name}: decoded`)
    } catch (err) {
      t.ok(err instanceof DhcpDecodeError, `${name}: DhcpDecodeError`)
      t.match(err, { code, offset }, `${name}: ${code} at ${offset}`)
    }
  }
  // The message names the option (built only when decoding fails, from the code the reader was given).
  t.throws(() => decode(cases[5][1]), { message: 'value of option 60: need 50 bytes, 2 left at offset 242' })
  t.throws(() => decode(Buffer.concat([good.subarray(0, 240), Buffer.from([93])])), { message: 'length of option 93: need 1 bytes, 0 left at offset 241' })
})

t.test('option 77: RFC 3004 list and iPXE plain string', async t => {
  t.same(optUserClasses(new Map([[77, Buffer.from('iPXE')]])), ['iPXE'])
  t.same(optUserClasses(new Map([[77, Buffer.from('\x04iPXE\x03abc')]])), ['iPXE', 'abc'])
  t.same(optUserClasses(new Map([[77, Buffer.from('\x05iPXE')]])), ['\x05iPXE'], 'bad length: whole value')
})

t.test('option 97 with and without the type byte; other lengths ignored', async t => {
  const g = Buffer.from('2c1b0a5c4e3d504f8162738495a6b7c8', 'hex')
  t.equal(optClientUuid(new Map([[97, Buffer.concat([Buffer.from([0]), g])]])), '5c0a1b2c-3d4e-4f50-8162-738495a6b7c8')
  t.equal(optClientUuid(new Map([[97, g]])), '5c0a1b2c-3d4e-4f50-8162-738495a6b7c8')
  t.equal(optClientUuid(new Map([[97, Buffer.from([1, 2, 3])]])), undefined)
})

t.test('PXE option 43 sub-options round-trip', async t => {
  const v = {
    discoveryControl: 3,
    bootServers: [{ type: 0x8000, addresses: ['10.0.0.1', '10.0.0.2'] }],
    bootMenu: [{ type: 0x8000, description: 'Netboot' }],
    menuPrompt: { timeout: 5, prompt: 'Press F8' },
    bootItem: { type: 0x8000, layer: 0 }
  }
  const b = encodePxeVendorOptions(v)
  t.equal(b[b.length - 1], 255, 'ends with END')
  t.same(decodePxeVendorOptions(b), v)
  t.equal(decodePxeVendorOptions(Buffer.from([6, 5, 1])), undefined, 'truncated sub-option')
})
