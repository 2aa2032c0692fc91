// A lossy UDP relay on loopback for TFTP: clients talk to the relay port, the relay talks to the server with one
// upstream socket per client (so the server sees one TID per client, as through a lossy network). Requests go to
// the server's listening port, everything else to the transfer port the server answered from. Drops are drawn
// from a seeded generator so a failure can be replayed; on top of that the 5th packet in each direction is always
// dropped, so a short windowed transfer (few ACKs upstream) still loses at least one packet each way.
import dgram from 'node:dgram'

export interface LossyRelay {
  port: number
  dropped: { up: number, down: number }
  forwarded: { up: number, down: number }
  close (): void
}

/** mulberry32: a tiny seeded PRNG, good enough to pick packets to drop. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const FORCED_DROP = 5

export async function startLossyRelay (serverPort: number, loss: number, seed: number): Promise<LossyRelay> {
  const rand = prng(seed)
  const seen = { up: 0, down: 0 }
  const drop = (dir: 'up' | 'down'): boolean => ++seen[dir] === FORCED_DROP || rand() < loss
  const front = dgram.createSocket('udp4')
  const upstreams = new Map<string, { sock: dgram.Socket, transferPort?: number }>()
  const relay: LossyRelay = {
    port: 0,
    dropped: { up: 0, down: 0 },
    forwarded: { up: 0, down: 0 },
    close () {
      front.close()
      for (const u of upstreams.values()) u.sock.close()
    }
  }
  front.on('message', (msg, client) => {
    const key = `${client.address}:${client.port}`
    let u = upstreams.get(key)
    if (u === undefined) {
      const sock = dgram.createSocket('udp4')
      const entry: { sock: dgram.Socket, transferPort?: number } = { sock }
      sock.bind(0, '127.0.0.1')
      sock.on('message', (reply, from) => {
        entry.transferPort = from.port
        if (drop('down')) { relay.dropped.down++; return }
        relay.forwarded.down++
        front.send(reply, client.port, client.address)
      })
      u = entry
      upstreams.set(key, u)
    }
    if (drop('up')) { relay.dropped.up++; return }
    relay.forwarded.up++
    const isRequest = msg.length >= 2 && (msg.readUInt16BE(0) === 1 || msg.readUInt16BE(0) === 2)
    u.sock.send(msg, isRequest || u.transferPort === undefined ? serverPort : u.transferPort, '127.0.0.1')
  })
  await new Promise<void>(resolve => front.bind(0, '127.0.0.1', resolve))
  relay.port = front.address().port
  return relay
}
