// Codec and option negotiation: round trips, every decode error with its code and offset, RFC bounds.
import t from 'tap'
import fc from 'fast-check'
import {
  decode, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, OP, packData, TftpDecodeError
} from '../../src/tftp/packet.js'
import { negotiate, blockCount } from '../../src/tftp/options.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('decodes an RRQ as a PXE ROM sends it (case-insensitive option names, zero padding)', async t => {
  // opcode 1, "pxelinux.0", "octet", "TSIZE" "0", "blksize" "1456", then two padding zeros
  const raw = Buffer.concat([hex('0001'), Buffer.from('pxelinux.0\0octet\0TSIZE\x000\0blksize\x001456\0\0\0', 'latin1')])
  t.same(decode(raw), { op: 1, filename: 'pxelinux.0', mode: 'octet', options: { tsize: '0', blksize: '1456' } })
})

t.test('packData: consecutive DATA packets, each equal to encodeData of its block', async t => {
  const data = Buffer.from(Array.from({ length: 1300 }, (_, i) => i & 0xff))
  const packets = packData(65534, 4, data, 512)   // blocks 65534, 65535, 0 (wrapped), 1; the last gets 276 bytes
  t.equal(packets.length, 4)
  t.same(packets.map(p => p.length), [516, 516, 280, 4], 'a block past the data is an empty DATA')
  packets.forEach((p, i) => t.same(p, encodeData(65534 + i, data.subarray(i * 512, Math.min((i + 1) * 512, data.length)))))
  t.same(packData(1, 1, Buffer.alloc(0), 512), [encodeData(1, Buffer.alloc(0))], 'an empty file is one empty DATA')
  fc.assert(fc.property(fc.integer({ min: 1, max: 70000 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 8, max: 1468 }), fc.nat({ max: 30000 }),
    (first, count, bs, len) => {
      const d = Buffer.alloc(len, 7)
      return packData(first, count, d, bs).every((p, i) => p.equals(encodeData(first + i, d.subarray(Math.min(i * bs, len), Math.min((i + 1) * bs, len)))))
    }))
})

t.test('round trips', async t => {
  t.same(decode(encodeAck(65535)), { op: OP.ACK, block: 65535 })
  t.same(decode(encodeError(5, 'unknown transfer ID')), { op: OP.ERROR, code: 5, message: 'unknown transfer ID' })
  t.same(decode(encodeOack({ blksize: '1468', tsize: '42' })), { op: OP.OACK, options: { blksize: '1468', tsize: '42' } })
  const d = decode(encodeData(70000, Buffer.from('abc')))
  t.same(d, { op: OP.DATA, block: 70000 & 0xffff, data: Buffer.from('abc') }, 'block numbers wrap to 16 bits')
  fc.assert(fc.property(
    fc.string({ minLength: 1, maxLength: 200 }).filter(s => !s.includes('\0')),
    fc.constantFrom('octet', 'netascii', 'OCTET'),
    fc.dictionary(fc.constantFrom('blksize', 'tsize', 'windowsize', 'timeout', 'x-vendor'), fc.nat().map(String)),
    (name, mode, options) => {
      const latin = Buffer.from(name, 'utf8').toString('latin1')
      const p = decode(encodeRequest(OP.RRQ, latin, mode, options))
      return p.op === OP.RRQ && p.filename === latin && p.mode === mode.toLowerCase() && JSON.stringify(p.options) === JSON.stringify(options)
    }))
})

t.test('error messages without a trailing NUL are accepted', async t => {
  t.same(decode(hex('0005 0008 6e6f')), { op: OP.ERROR, code: 8, message: 'no' })
})

const bad: Array<[string, Buffer, string, number]> = [
  ['empty datagram', Buffer.alloc(0), 'NB_ERR_TFTP_SHORT', 0],
  ['one byte', hex('00'), 'NB_ERR_TFTP_SHORT', 1],
  ['opcode 0', hex('0000 0000'), 'NB_ERR_TFTP_OPCODE', 0],
  ['opcode 7', hex('0007'), 'NB_ERR_TFTP_OPCODE', 0],
  ['ACK without block', hex('0004 00'), 'NB_ERR_TFTP_SHORT', 3],
  ['DATA without block', hex('0003'), 'NB_ERR_TFTP_SHORT', 2],
  ['ERROR without code', hex('0005 00'), 'NB_ERR_TFTP_SHORT', 3],
  ['RRQ name without NUL', Buffer.from('\x00\x01abc', 'latin1'), 'NB_ERR_TFTP_STRING', 2],
  ['RRQ mode without NUL', Buffer.from('\x00\x01abc\0octet', 'latin1'), 'NB_ERR_TFTP_STRING', 6],
  ['RRQ unknown mode', Buffer.from('\x00\x01abc\0binary\0', 'latin1'), 'NB_ERR_TFTP_MODE', 6],
  ['option without value', Buffer.from('\x00\x01a\0octet\0blksize\0', 'latin1'), 'NB_ERR_TFTP_OPTION', 18],
  ['empty option name', Buffer.from('\x00\x01a\0octet\0\x001\0', 'latin1'), 'NB_ERR_TFTP_OPTION', 10]
]
for (const [name, buf, code, offset] of bad) {
  t.test(`refuses ${name}`, async t => {
    let caught: unknown
    try { decode(buf) } catch (err) { caught = err }
    t.ok(caught instanceof TftpDecodeError, 'a TftpDecodeError')
    t.match(caught, { code, offset })
  })
}

t.test('decode never throws anything but TftpDecodeError (fuzz)', async t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), bytes => {
    try { decode(Buffer.from(bytes)) } catch (err) { return err instanceof TftpDecodeError }
    return true
  }), { numRuns: 3000 })
  t.pass()
})

const limits = { maxBlksize: 8192, maxWindowsize: 32 }
const table: Array<[string, Record<string, string>, object]> = [
  ['no options: no OACK', {}, { blksize: 512, windowsize: 1 }],
  ['blksize 1468 (UEFI)', { blksize: '1468' }, { blksize: 1468, windowsize: 1, oack: { blksize: '1468' } }],
  ['blksize above our limit is lowered', { blksize: '65464' }, { blksize: 8192, windowsize: 1, oack: { blksize: '8192' } }],
  ['blksize 8 is the minimum', { blksize: '8' }, { blksize: 8, windowsize: 1, oack: { blksize: '8' } }],
  ['blksize 7 is invalid: ignored', { blksize: '7' }, { blksize: 512, windowsize: 1 }],
  ['blksize not a number: ignored', { blksize: '1468x' }, { blksize: 512, windowsize: 1 }],
  ['tsize 0 answers the size', { tsize: '0' }, { blksize: 512, windowsize: 1, oack: { tsize: '123456' } }],
  ['windowsize 16', { windowsize: '16' }, { blksize: 512, windowsize: 16, oack: { windowsize: '16' } }],
  ['windowsize above our limit', { windowsize: '65535' }, { blksize: 512, windowsize: 32, oack: { windowsize: '32' } }],
  ['windowsize x blksize over 64 KiB is answered smaller (RFC 7440 §3)', { blksize: '8192', windowsize: '16' }, { blksize: 8192, windowsize: 8, oack: { blksize: '8192', windowsize: '8' } }],
  ['the window cap does not depend on the option order', { windowsize: '16', blksize: '8192' }, { blksize: 8192, windowsize: 8, oack: { windowsize: '8', blksize: '8192' } }],
  ['1468 x 16 is under the window cap', { blksize: '1468', windowsize: '16' }, { blksize: 1468, windowsize: 16, oack: { blksize: '1468', windowsize: '16' } }],
  ['windowsize 0 invalid', { windowsize: '0' }, { blksize: 512, windowsize: 1 }],
  ['timeout 5', { timeout: '5' }, { blksize: 512, windowsize: 1, timeoutMs: 5000, oack: { timeout: '5' } }],
  ['timeout 256 invalid', { timeout: '256' }, { blksize: 512, windowsize: 1 }],
  ['timeout 0 invalid', { timeout: '0' }, { blksize: 512, windowsize: 1 }],
  ['unknown options ignored', { multicast: '', rollover: '0' }, { blksize: 512, windowsize: 1 }],
  ['all together (bootmgr style)', { blksize: '1456', tsize: '0', windowsize: '4' }, { blksize: 1456, windowsize: 4, oack: { blksize: '1456', tsize: '123456', windowsize: '4' } }]
]
for (const [name, req, want] of table) {
  t.test(`negotiate: ${name}`, async t => { t.same(negotiate(req, limits, 123456), want) })
}

t.test('negotiate: an empty file gets no tsize (curl refuses tsize 0)', async t => {
  t.same(negotiate({ tsize: '0', blksize: '1468' }, limits, 0), { blksize: 1468, windowsize: 1, oack: { blksize: '1468' } })
  t.same(negotiate({ tsize: '0' }, limits, 0), { blksize: 512, windowsize: 1 })
})

t.test('block count: the last block is short, possibly empty (RFC 1350 §6)', async t => {
  t.equal(blockCount(0, 512), 1)
  t.equal(blockCount(511, 512), 1)
  t.equal(blockCount(512, 512), 2)
  t.equal(blockCount(32 * 1024 * 1024 + 1, 512), 65537)
})
