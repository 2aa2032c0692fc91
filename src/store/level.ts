// The durable Store on classic-level (LevelDB). One sublevel per collection, JSON values:
//   machines    mac                         → Machine
//   deployments id                          → Deployment
//   bymachine   mac \0 id                   → ''  (index for listByMachine)
//   events      deploymentId \0 seq(10)     → DeploymentEvent
//   leases      mac                         → Lease
//   images      id                          → ImageEntry
//   meta        'ping'                      → { at, pid }  (machines.ping: proves the store writable and readable)
// Durability: LevelDB appends every write to its log with write(2) before the promise resolves, so an
// acknowledged write survives kill -9 of this process. Writes whose loss on power failure would hurt
// (deployment state, state-changing events, leases, image catalogue, admin machine edits) also pass
// `sync: true` (fsync).
// Sightings (lastSeen) are frequent and re-learned on the next boot, so they are not fsynced.
import { ClassicLevel } from 'classic-level'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConflictError, NotFoundError } from '../errors.js'
import type {
  Deployment, DeploymentEvent, DeploymentStore, ImageCatalog, ImageEntry, Lease, LeaseStore, Machine, MachineStore, NewDeploymentEvent, Store
} from './types.js'
import { applyPatch, byCreated, mergeSighting } from './copy.js'
import { storeError, StoreLockedError } from './errors.js'
import { KeyedLock } from './lock.js'

/** The few sublevel operations the store uses, typed by value (classic-level's generics are awkward here). */
interface Sub<V> {
  get (k: string): Promise<V | undefined>
  getMany (ks: string[]): Promise<Array<V | undefined>>
  put (k: string, v: V, o?: { sync?: boolean }): Promise<void>
  batch (ops: Array<{ type: 'put', key: string, value: V }>, o?: { sync?: boolean }): Promise<void>
  del (k: string, o?: { sync?: boolean }): Promise<void>
  keys (o: object): { all (): Promise<string[]> }
  values (o: object): { all (): Promise<V[]> }
}

interface KeyedStore<V> {
  get (k: string): Promise<V | undefined>
  put (v: V): Promise<void>
  delete (k: string): Promise<void>
  list (): Promise<V[]>
}

const SYNC = { sync: true } as const
const SEP = '\x00'
/**
 * Event types a PE may send many of per second: written without fsync (they still survive kill -9). A power
 * loss can lose the last few of them but never leaves a gap: LevelDB's log is one sequential file, so the
 * next fsynced write (a step-end, the final state) makes every earlier one durable too.
 */
const CHATTY_EVENTS = new Set(['log', 'step-progress'])
const seqKey = (id: string, seq: number): string => `${id}${SEP}${String(seq).padStart(10, '0')}`

/** Run a database call; anything it throws becomes a StoreError (NotFound/Conflict pass through). */
async function guard<T> (op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if ((err as { code?: string }).code === 'NB_ERR_NOT_FOUND' || (err as { code?: string }).code === 'NB_ERR_CONFLICT') throw err
    throw storeError(op, err)
  }
}

function sub<V> (db: ClassicLevel<string, string>, name: string): Sub<V> {
  return db.sublevel<string, V>(name, { valueEncoding: 'json' }) as unknown as Sub<V>
}

async function values<V> (s: Sub<V>, range: { gt?: string, lt?: string } = {}): Promise<V[]> {
  return await s.values(range).all()
}

/**
 * Runs `fn` holding the locks of all `keys` at once. Every key's turn is taken in one synchronous step (lock.run
 * registers its tail before its first await), so a multi-key holder only ever waits for holders registered before
 * it: no lock-order cycle, no deadlock with other batches or single-key calls.
 */
async function withKeys<T> (lock: KeyedLock, keys: readonly string[], fn: () => Promise<T>): Promise<T> {
  let release = (): void => {}
  const done = new Promise<void>(resolve => { release = resolve })
  const turns = keys.map(async k => await new Promise<void>(resolve => {
    void lock.run(k, async () => { resolve(); await done })
  }))
  try {
    await Promise.all(turns)
    return await fn()
  } finally {
    release()
  }
}

function machineStore (db: ClassicLevel<string, string>): MachineStore {
  const s = sub<Machine>(db, 'machines')
  const meta = sub<{ at: string, pid: number }>(db, 'meta')
  const lock = new KeyedLock()
  return {
    get: async (mac) => await guard('machines.get', async () => await s.get(mac)),
    recordSighting: async (sighting, at) => await guard('machines.recordSighting', async () =>
      await lock.run(sighting.mac, async () => {
        const merged = mergeSighting<Machine>(await s.get(sighting.mac), sighting, at)
        await s.put(sighting.mac, merged)
        return merged
      })),
    // One getMany and one batch for the whole list, under the locks of all its MACs (an update or a single
    // sighting of one of them runs before or after, never between the read and the write). Not fsynced, like
    // recordSighting.
    recordSightings: async (list) => await guard('machines.recordSightings', async () => {
      if (list.length === 0) return []
      const macs = [...new Set(list.map(e => e.sighting.mac))]
      return await withKeys(lock, macs, async () => {
        const found = await s.getMany(macs)
        const current = new Map(macs.map((mac, i) => [mac, found[i]]))
        const out = list.map(({ sighting, at }) => {
          const merged = mergeSighting<Machine>(current.get(sighting.mac), sighting, at)
          current.set(sighting.mac, merged)
          return merged
        })
        await s.batch(macs.map(mac => ({ type: 'put' as const, key: mac, value: current.get(mac) as Machine })))
        return out
      })
    }),
    update: async (mac, patch) => await guard('machines.update', async () =>
      await lock.run(mac, async () => {
        const stored = await s.get(mac)
        if (stored === undefined) throw new NotFoundError(`no machine ${mac}`)
        const next = applyPatch(stored, { ...patch, mac, firstSeen: stored.firstSeen })
        await s.put(mac, next, SYNC)
        return next
      })),
    list: async () => await guard('machines.list', async () => await values(s)),
    // The same native calls as recordSightings (batch, getMany) plus a read of the machines table, so a
    // successful ping has also started the thread pool and opened the table files the first sightings touch.
    ping: async () => await guard('machines.ping', async () => {
      const at = new Date().toISOString()
      await meta.batch([{ type: 'put', key: 'ping', value: { at, pid: process.pid } }])
      const [back] = await meta.getMany(['ping'])
      if (back?.at !== at) throw new Error('ping record read back differs from what was written')
      await s.keys({ limit: 1 }).all()
    })
  }
}

function deploymentStore (db: ClassicLevel<string, string>): DeploymentStore {
  const s = sub<Deployment>(db, 'deployments')
  const idx = sub<string>(db, 'bymachine')
  const ev = sub<DeploymentEvent>(db, 'events')
  const lock = new KeyedLock()
  const lastSeq = new Map<string, number>()

  async function nextSeq (id: string): Promise<number> {
    let last = lastSeq.get(id)
    if (last === undefined) {
      const [k] = await ev.keys({ gt: `${id}${SEP}`, lt: `${id}\x01`, reverse: true, limit: 1 }).all()
      last = k === undefined ? 0 : Number(k.slice(id.length + 1))
    }
    return last + 1
  }

  /**
   * Runs `write` with the batch operations that append `events` to deployment `id`, under the deployment's event
   * lock (seqs read and assigned there, as appendEvent does); the seq counter moves only once the write is stored.
   */
  async function withEvents (id: string, events: NewDeploymentEvent[], write: (ops: any[]) => Promise<void>): Promise<void> {
    if (events.length === 0) { await write([]); return }
    await lock.run(`${SEP}ev${SEP}${id}`, async () => {
      const first = await nextSeq(id)
      const ops = events.map((e, i) => ({ type: 'put', sublevel: ev, key: seqKey(id, first + i), value: { ...e, deploymentId: id, seq: first + i } }))
      await write(ops)
      lastSeq.set(id, first + events.length - 1)
    })
  }

  return {
    create: async (d, events = []) => await guard('deployments.create', async () =>
      await lock.run(d.id, async () => {
        if (await s.get(d.id) !== undefined) throw new ConflictError(`deployment ${d.id} already exists`)
        await withEvents(d.id, events, async (evOps) => {
          await db.batch([
            { type: 'put', sublevel: s as any, key: d.id, value: d },
            { type: 'put', sublevel: idx as any, key: `${d.mac}${SEP}${d.id}`, value: '' },
            ...evOps
          ] as any, SYNC)
        })
      })),
    get: async (id) => await guard('deployments.get', async () => await s.get(id)),
    update: async (id, patch, events = []) => await guard('deployments.update', async () =>
      await lock.run(id, async () => {
        const stored = await s.get(id)
        if (stored === undefined) throw new NotFoundError(`no deployment ${id}`)
        const next = applyPatch(stored, { ...patch, id })
        const ops: any[] = [{ type: 'put', sublevel: s, key: id, value: next }]
        if (next.mac !== stored.mac) {
          ops.push({ type: 'del', sublevel: idx, key: `${stored.mac}${SEP}${id}` })
          ops.push({ type: 'put', sublevel: idx, key: `${next.mac}${SEP}${id}`, value: '' })
        }
        await withEvents(id, events, async (evOps) => { await db.batch([...ops, ...evOps], SYNC) })
        return next
      })),
    listByMachine: async (mac) => await guard('deployments.listByMachine', async () => {
      const keys = await idx.keys({ gt: `${mac}${SEP}`, lt: `${mac}\x01` }).all()
      const found = await s.getMany(keys.map(k => k.slice(mac.length + 1)))
      return found.filter((d): d is Deployment => d !== undefined).sort(byCreated)
    }),
    list: async () => await guard('deployments.list', async () => await values(s)),
    appendEvent: async ({ deploymentId, ...e }) => await guard('deployments.appendEvent', async () => {
      // Serialised per deployment (withEvents): concurrent appends never collide.
      let stored: DeploymentEvent | undefined
      await withEvents(deploymentId, [e], async (ops) => {
        stored = ops[0].value
        await db.batch(ops, CHATTY_EVENTS.has(e.type) ? {} : SYNC)
      })
      return JSON.parse(JSON.stringify(stored)) as DeploymentEvent
    }),
    events: async (id) => await guard('deployments.events', async () =>
      await values(ev, { gt: `${id}${SEP}`, lt: `${id}\x01` }))
  }
}

function keyed<V> (db: ClassicLevel<string, string>, name: string, key: (v: V) => string): KeyedStore<V> {
  const s = sub<V>(db, name)
  return {
    get: async (k: string) => await guard(`${name}.get`, async () => await s.get(k)),
    put: async (v: V) => await guard(`${name}.put`, async () => { await s.put(key(v), v, SYNC) }),
    delete: async (k: string) => await guard(`${name}.delete`, async () => { await s.del(k, SYNC) }),
    list: async () => await guard(`${name}.list`, async () => await values(s))
  }
}

function isLocked (err: unknown): boolean {
  for (let e = err as { code?: string, cause?: unknown } | undefined; e != null; e = e.cause as typeof e) {
    if (e.code === 'LEVEL_LOCKED') return true
  }
  return false
}

/** Batches of WARM_UP_BATCH sightings Store.warmUp writes to its scratch database. */
const WARM_UP_BATCHES = 100
const WARM_UP_BATCH = 64

/**
 * Store.warmUp for level: the sighting path (machineStore, abstract-level's batch and getMany, JSON, LevelDB) run
 * WARM_UP_BATCHES times on a scratch database in a temporary directory, deleted afterwards. The closures of a
 * machineStore over another database are the same functions to V8 (same literal, same parent), so what it compiles
 * serves the real store too. Measured in bench/dhcp (sixth pass): with DHCP on its own thread, the first-contact
 * writes of a storm's first 0.4 s were still main-thread work, run cold, that took the CPU from the clients' side on
 * a small box. Not the real database: a warm-up there (fifth pass) left LevelDB compaction work for the seconds after.
 */
async function warmUpSightingPath (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'netboot-store-warmup-'))
  const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'json', createIfMissing: true })
  try {
    await db.open()
    const machines = machineStore(db)
    for (let b = 0; b < WARM_UP_BATCHES; b++) {
      const at = new Date()
      const list = Array.from({ length: WARM_UP_BATCH }, (_, i) => {
        const n = (b * WARM_UP_BATCH + i) % 1024   // every MAC twice: creates, then merges into what is there
        const mac = `02:6e:62:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`
        // The shapes the DHCP thread sends (Inventory.due): a GUID or none, a client address on 4011 requests. With
        // the GUID-only shape here, the first sightings of other shapes (the DHCP warm-up's, cloned on this thread)
        // added transitions to a map the optimized merge relied on being stable, and it was compiled again during
        // the storm (`dependency-change`, bench/dhcp/README.md, fourteenth pass).
        const sighting = { mac, arch: 'efi-x64' as const, vendorClass: 'PXEClient:Arch:00007:UNDI:003000' }
        const uuid = i % 7 === 5 ? {} : { uuid: '5c0a1b2c-3d4e-4f50-8162-738495a6b7c8' }
        const ip = i % 8 === 7 ? { ip: '192.0.2.99' } : {}
        return { sighting: { ...sighting, ...uuid, ...ip }, at }
      })
      // Cloned as postMessage clones what the DHCP thread sends (protocol.ts): objects of the shapes V8 will see.
      // With literals, the first real batch deoptimized recordSightings (`wrong map`) and had it compiled again.
      await machines.recordSightings(structuredClone(list))
    }
    await machines.ping()
  } finally {
    await db.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

/** Open (creating if needed) the level database in `dir`. Rejects with StoreLockedError when another process holds it. */
export async function openLevelStore (dir: string): Promise<Store> {
  const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'json', createIfMissing: true })
  try {
    await db.open()
  } catch (err) {
    if (isLocked(err)) {
      const e = new StoreLockedError(`another netboot process holds ${dir} — is the daemon running? use the admin API or stop it`)
      ;(e as Error).cause = err
      throw e
    }
    throw storeError(`open ${dir}`, err)
  }
  return {
    machines: machineStore(db),
    deployments: deploymentStore(db),
    leases: keyed<Lease>(db, 'leases', l => l.mac) satisfies LeaseStore,
    images: keyed<ImageEntry>(db, 'images', i => i.id) satisfies ImageCatalog,
    warmUp: warmUpSightingPath,
    close: async () => { await guard('close', async () => { await db.close() }) }
  }
}
