// A UDP socket that reads datagrams in batches (native/udp-batch: recvmmsg(2), one JS call per batch, replies by a
// synchronous non-blocking sendto(2)). It exists for one reason, measured in bench/dhcp (tenth pass): Node's dgram
// spends more CPU per datagram (a Buffer with its own backing store, an rinfo object, a JS call, a send request and
// its completion) than the kernel does, and a DHCP server in a boot storm drains its queue at that speed.
// Linux only; loadUdpBatch() says why it is unavailable anywhere else (callers fall back to dgram).
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { LoopHold } from './busy-poll.js'

export interface UdpBatchBinding {
  open: (address: string, port: number, recvBufferBytes: number, slots: ArrayBuffer, meta: ArrayBuffer, onBatch: (n: number) => void) => object
  port: (handle: object) => number | undefined
  recvBufferBytes: (handle: object) => number | undefined
  send: (handle: object, bytes: Uint8Array, address: number, port: number) => number
  close: (handle: object) => void
  errname: (errno: number) => string
  /** keeps this thread's event loop polling at least `micros` µs from now (native/udp-batch/loop_hold.c) */
  hold: (micros: number) => void
  /** idle turns the holds of this thread have spun so far */
  holdTurns: () => number
  BATCH: number
  SLOT_BYTES: number
  META_FIELDS: number
}

export interface BatchHandlers {
  /** each datagram, in a Buffer of its own (it may be kept after the call returns) */
  datagram: (msg: Buffer, address: string, port: number) => void
  /** a datagram longer than the addon's slot (4 KiB, more than any DHCP message on Ethernet): not delivered */
  truncated: (address: string, port: number) => void
  /** the kernel dropped `dropped` datagrams (`total` so far) because the receive buffer was full (SO_RXQ_OVFL) */
  dropped: (dropped: number, total: number) => void
  /** recvmmsg failed; the socket stays open */
  error: (err: NodeJS.ErrnoException) => void
}

/** The built addon, from src/net (tsx) or dist/src/net (compiled). */
const CANDIDATES = ['../../native/udp-batch/build/Release/udp_batch.node', '../../../native/udp-batch/build/Release/udp_batch.node']

let loaded: { binding?: UdpBatchBinding, path?: string, reason?: string } | undefined

/** The addon and the file it came from, or why it cannot be used here (once per thread). */
export function loadUdpBatch (): { binding?: UdpBatchBinding, path?: string, reason?: string } {
  if (loaded !== undefined) return loaded
  if (process.platform !== 'linux') return (loaded = { reason: `recvmmsg is Linux-only (this is ${process.platform})` })
  const path = CANDIDATES.map(p => fileURLToPath(new URL(p, import.meta.url))).find(p => existsSync(p))
  if (path === undefined) return (loaded = { reason: 'native/udp-batch is not built (npm run build builds it; it needs make and g++)' })
  try {
    loaded = { binding: createRequire(import.meta.url)(path) as UdpBatchBinding, path }
  } catch (err) {
    loaded = { reason: `native/udp-batch failed to load: ${(err as Error).message}` }
  }
  return loaded
}

/**
 * Dotted quad → the host-order address as a signed 32-bit integer (255.255.255.255 is -1); undefined when it is not
 * one. Signed so that every address is a small integer to V8: as a uint32, an address above 127.255.255.255
 * (192.168.x.x, 172.16.x.x, the broadcast address) is a heap number, and the first one after a warm-up on 127.0.0.1
 * deoptimized the send path (`not a Smi`, test/dhcp/warmup-deopt.test.ts).
 */
export function ipv4ToInt32 (s: string): number | undefined {
  let value = 0
  let part = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined
      value = (value << 8) | part
      part = 0
      digits = 0
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48)
      if (part > 255) return undefined
      digits++
    } else {
      return undefined
    }
  }
  if (dots !== 3 || digits === 0) return undefined
  return (value << 8) | part
}

/** A host-order address, signed (ipv4ToInt32) or unsigned → dotted quad. */
export function int32ToIpv4 (n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

export class BatchUdpSocket {
  private handle: object | undefined
  /** The source of the last datagram and its text: most datagrams in a storm come from one relay. */
  private lastSource = -1
  private lastSourceText = ''
  private lastDest = ''
  private lastDestValue = 0
  /** the kernel's drop counter as last reported */
  private dropsSeen = 0

  private constructor (private readonly binding: UdpBatchBinding, private readonly slots: Buffer, private readonly meta: Uint32Array,
    private readonly on: BatchHandlers) {}

  /**
   * Binds address:port (exclusively, SO_BROADCAST on) and starts reading. Throws an Error with code and syscall
   * (EADDRINUSE, EACCES…) as dgram would.
   */
  static open (binding: UdpBatchBinding, address: string, port: number, recvBufferBytes: number, on: BatchHandlers): BatchUdpSocket {
    const slots = Buffer.from(new ArrayBuffer(binding.BATCH * binding.SLOT_BYTES))
    const meta = new Uint32Array(binding.BATCH * binding.META_FIELDS)
    const sock = new BatchUdpSocket(binding, slots, meta, on)
    sock.handle = binding.open(address, port, recvBufferBytes, slots.buffer as ArrayBuffer, meta.buffer, sock.onBatch)
    return sock
  }

  private readonly onBatch = (n: number): void => {
    if (n < 0) {
      const code = this.binding.errname(n)
      this.on.error(Object.assign(new Error(`recvmmsg ${code}`), { code, errno: n, syscall: 'recvmmsg' }))
      return
    }
    const slot = this.binding.SLOT_BYTES
    const stride = this.binding.META_FIELDS
    let drops = this.dropsSeen
    for (let i = 0; i < n; i++) {
      // A handler that closed the socket gets no more of the batch, as dgram emits no 'message' after close().
      if (this.handle === undefined) return
      const m = i * stride
      const length = this.meta[m]
      // Signed, as ipv4ToInt32 gives it: read as a uint32, a source above 127.255.255.255 is no small integer.
      const source = this.meta[m + 1] | 0
      if (source !== this.lastSource) { this.lastSource = source; this.lastSourceText = int32ToIpv4(source) }
      const port = this.meta[m + 2]
      if (this.meta[m + 4] > drops) drops = this.meta[m + 4]
      if (this.meta[m + 3] !== 0) { this.on.truncated(this.lastSourceText, port); continue }
      // A copy: the slot is overwritten by the next batch while a handler may still hold this datagram.
      const msg = Buffer.allocUnsafe(length)
      this.slots.copy(msg, 0, i * slot, i * slot + length)
      this.on.datagram(msg, this.lastSourceText, port)
    }
    if (drops > this.dropsSeen) {
      const dropped = drops - this.dropsSeen
      this.dropsSeen = drops
      this.on.dropped(dropped, drops)
    }
  }

  /** The receive buffer the kernel granted, in bytes (twice what was asked, capped by net.core.rmem_max). */
  recvBufferBytes (): number | undefined {
    return this.handle === undefined ? undefined : this.binding.recvBufferBytes(this.handle)
  }

  port (): number | undefined {
    return this.handle === undefined ? undefined : this.binding.port(this.handle)
  }

  /** Sends at once (non-blocking); returns the error code (ENETUNREACH, EAGAIN…) or undefined. */
  send (bytes: Uint8Array, port: number, address: string): string | undefined {
    if (this.handle === undefined) return 'EBADF'
    if (address !== this.lastDest) {
      const value = ipv4ToInt32(address)
      if (value === undefined) return 'EINVAL'
      this.lastDest = address
      this.lastDestValue = value   // signed; the addon reads it as a uint32 (napi_get_value_uint32 wraps)
    }
    const err = this.binding.send(this.handle, bytes, this.lastDestValue, port)
    return err === 0 ? undefined : this.binding.errname(err)
  }

  close (): void {
    if (this.handle === undefined) return
    this.binding.close(this.handle)
    this.handle = undefined
  }
}

/**
 * Busy polling of this thread's loop by the addon (loop_hold.c): a libuv idle handle reads the thread's sockets in C
 * (recvmmsg) for up to 50 µs per turn, so a held, quiet loop allocates nothing and turns 20,000 times a second, where
 * net/busy-poll.ts allocates an Immediate and a clock reading per turn, hundreds of thousands of times a second.
 */
export class NativeLoopHold implements LoopHold {
  holds = 0
  /** the thread's count when this object was made: turns counts from here */
  private readonly turnsBefore: number

  constructor (private readonly binding: UdpBatchBinding) {
    this.turnsBefore = binding.holdTurns()
  }

  /** Nothing to prepare: no spin loop to calibrate or compile. */
  prepare (): void {}

  hold (micros: number): void {
    if (!(micros > 0)) return
    this.holds++
    this.binding.hold(micros)
  }

  /** Turns the thread's loop has spun since this object was made (every hold of the thread, whoever asked). */
  get turns (): number { return this.binding.holdTurns() - this.turnsBefore }
}
