// Shared pieces of the TFTP tests: a server on a random loopback port, fixture files, a child-process runner
// and a minimal TFTP client of our own (for counting packets and for many concurrent downloads).
import type { Test } from 'tap'
import dgram from 'node:dgram'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createLogger } from '../../src/log.js'
import { staticConfig } from '../../src/config/holder.js'
import type { AppConfig } from '../../src/config/schema.js'
import type { Store } from '../../src/store/types.js'
import { systemClock } from '../../src/clock.js'
import { createTftpService, type TftpService } from '../../src/tftp/service.js'
import { VirtualFiles } from '../../src/tftp/virtual.js'
import { decode, encodeAck, encodeRequest, OP, type Packet } from '../../src/tftp/packet.js'

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

export type TftpOverrides = Partial<AppConfig['tftp']>

export function tftpConfig (root: string, o: TftpOverrides = {}): AppConfig {
  const tftp = {
    enabled: true,
    root,
    maxTransfers: 1000,
    maxTransfersPerClient: 1000,
    cacheBytes: 64 * 1024 * 1024,
    maxBlksize: 65464,
    maxWindowsize: 64,
    retries: 6,
    timeoutMs: 1000,
    busyPollMicroseconds: 200,
    ...o
  }
  // Only the fields the TFTP service reads; the rest of AppConfig belongs to other services.
  // bootLoaders.efiX64 names `named-link.efi`: the traversal test's one symlink out of the root that is followed.
  // secureBootDir: the Secure Boot chain's files (src/secureboot/tftp.ts), a directory inside the root here.
  const bootLoaders = { bios: 'undionly.kpxe', efiIa32: 'ipxe-ia32.efi', efiX64: 'named-link.efi', efiArm64: 'ipxe-arm64.efi', httpX64: 'ipxe.efi', httpArm64: 'ipxe-arm64.efi', secureBoot: true, secureBootDir: join(root, 'sb') }
  return { server: { address: '127.0.0.1', bind: '127.0.0.1' }, ports: { tftp: 0 }, tftp, bootLoaders, source: '<test>', httpBaseUrl: 'http://127.0.0.1' } as unknown as AppConfig
}

export async function tempRoot (t: Test, prefix = 'nbt-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function fixture (dir: string, name: string, size: number): Promise<Buffer> {
  const buf = randomBytes(size)
  await writeFile(join(dir, name), buf)
  return buf
}

export interface Started {
  port: number
  service: TftpService
  virtual: VirtualFiles
  /** every log line the service wrote, parsed */
  logs: Array<Record<string, any>>
}

export async function startServer (t: Test, root: string, o: TftpOverrides = {}, twinSockets?: boolean): Promise<Started> {
  const logs: Array<Record<string, any>> = []
  const sink = new Writable({
    write (chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line !== '') logs.push(JSON.parse(line))
      cb()
    }
  })
  const virtual = new VirtualFiles()
  const ctx = { config: staticConfig(tftpConfig(root, o)), store: {} as Store, log: createLogger({ level: 'debug', destination: sink }), clock: systemClock }
  const service = createTftpService(ctx, { virtual, twinSockets })
  await service.start()
  t.teardown(() => service.stop())
  return { port: service.address()!.port, service, virtual, logs }
}

export interface RunResult { code: number | null, stdout: string, stderr: string }

/** Runs a real client; kills it (by its own PID) after `timeoutMs`. */
export function run (cmd: string, args: string[], timeoutMs = 60000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', d => { stdout += String(d) })
    p.stderr.on('data', d => { stderr += String(d) })
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('error', reject)
    p.on('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

export interface GetResult {
  data?: Buffer
  oack?: Record<string, string>
  error?: { code: number, message: string }
  /** DATA packets received, duplicates included */
  dataPackets: number
  /** the transfer port the server answered from */
  serverPort?: number
}

export interface GetOptions {
  options?: Record<string, string>
  /** ms without a packet before giving up (no retransmission: loopback does not lose) */
  idleMs?: number
  /** called for every packet received, may send extra datagrams through `sock` */
  onPacket?: (p: Packet, sock: dgram.Socket, from: dgram.RemoteInfo) => void
  /** ACK every N-th block only (windowsize clients); default 1, or windowsize when negotiated */
  ackEvery?: number
  /** stop acknowledging after this block: a stalled client */
  stallAfter?: number
  /** send every ACK this many times (duplicate ACK test); default 1 */
  ackCopies?: number
}

/**
 * A minimal RRQ client: one socket, lockstep or windowed ACKs, no retransmission (loopback). Resolves with the
 * file, or with the error the server sent, or with what arrived when the server went silent for `idleMs`.
 */
export function tftpGet (port: number, file: string, o: GetOptions = {}): Promise<GetResult> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4')
    const chunks: Buffer[] = []
    const res: GetResult = { dataPackets: 0 }
    let expected = 1
    let blksize = 512
    let every = o.ackEvery ?? 1
    let timer: NodeJS.Timeout | undefined
    // Close only after queued sends left: close() right after send() can drop the final ACK.
    let lastSend: Promise<void> = Promise.resolve()
    const send = (b: Buffer, p: number, a: string): void => {
      lastSend = new Promise(resolve => sock.send(b, p, a, () => resolve()))
    }
    const finish = (): void => { clearTimeout(timer); void lastSend.then(() => { sock.close(); resolve(res) }) }
    const idle = (): void => { clearTimeout(timer); timer = setTimeout(finish, o.idleMs ?? 3000) }
    sock.on('message', (msg, rinfo) => {
      idle()
      res.serverPort ??= rinfo.port
      let p: Packet
      try { p = decode(msg) } catch { return }
      o.onPacket?.(p, sock, rinfo)
      if (p.op === OP.ERROR) { res.error = { code: p.code, message: p.message }; finish(); return }
      if (p.op === OP.OACK) {
        res.oack = p.options
        blksize = Number(p.options.blksize ?? 512)
        if (o.ackEvery === undefined && p.options.windowsize !== undefined) every = Number(p.options.windowsize)
        send(encodeAck(0), rinfo.port, rinfo.address)
        return
      }
      if (p.op !== OP.DATA) return
      res.dataPackets++
      if (p.block !== (expected & 0xffff)) {
        // A retransmitted block we already have: our ACK was lost, say it again (lockstep only).
        if (every === 1 && p.block === ((expected - 1) & 0xffff) && o.stallAfter === undefined) send(encodeAck(p.block), rinfo.port, rinfo.address)
        return
      }
      chunks.push(p.data)
      const last = p.data.length < blksize
      if (o.stallAfter !== undefined && expected >= o.stallAfter) return
      if (last || expected % every === 0) {
        for (let i = 0; i < (o.ackCopies ?? 1); i++) send(encodeAck(p.block), rinfo.port, rinfo.address)
      }
      expected++
      if (last) { res.data = Buffer.concat(chunks); finish() }
    })
    sock.bind(0, '127.0.0.1', () => {
      sock.send(encodeRequest(OP.RRQ, file, 'octet', o.options ?? {}), port, '127.0.0.1')
      idle()
    })
  })
}
