// In-memory Store for tests and `whatif`. Same contract as level.ts (test/store/contract.ts runs on both):
// values are JSON copies in and out, lists are sorted by key, update of a missing record is a NotFoundError.
import { ConflictError, NotFoundError } from '../errors.js'
import type {
  Deployment, DeploymentEvent, DeploymentStore, ImageCatalog, ImageEntry, Lease, LeaseStore, Machine, MachineStore, NewDeploymentEvent, Store
} from './types.js'
import { applyPatch, byCreated, jsonCopy, mergeSighting } from './copy.js'

function sortedValues<T> (m: Map<string, T>): T[] {
  return [...m.keys()].sort().map(k => jsonCopy(m.get(k) as T))
}

function machines (): MachineStore {
  const m = new Map<string, Machine>()
  return {
    async get (mac) { const v = m.get(mac); return v === undefined ? undefined : jsonCopy(v) },
    async recordSighting (s, at) {
      const merged = mergeSighting<Machine>(m.get(s.mac), s, at)
      m.set(s.mac, merged)
      return jsonCopy(merged)
    },
    async recordSightings (list) {
      // Synchronous from here on: no other caller interleaves; merged first, then stored (all or nothing).
      const next = new Map<string, Machine>()
      const out = list.map(({ sighting, at }) => {
        const merged = mergeSighting<Machine>(next.get(sighting.mac) ?? m.get(sighting.mac), sighting, at)
        next.set(sighting.mac, merged)
        return jsonCopy(merged)
      })
      for (const [mac, v] of next) m.set(mac, v)
      return out
    },
    async ping () {},
    async update (mac, patch) {
      const stored = m.get(mac)
      if (stored === undefined) throw new NotFoundError(`no machine ${mac}`)
      const next = applyPatch(stored, { ...patch, mac, firstSeen: stored.firstSeen })
      m.set(mac, next)
      return jsonCopy(next)
    },
    async list () { return sortedValues(m) }
  }
}

function deployments (): DeploymentStore {
  const m = new Map<string, Deployment>()
  const ev = new Map<string, DeploymentEvent[]>()
  function append (deploymentId: string, events: NewDeploymentEvent[]): DeploymentEvent[] {
    const list = ev.get(deploymentId) ?? []
    const stored = events.map((e, i) => jsonCopy({ ...e, deploymentId, seq: list.length + i + 1 }) as DeploymentEvent)
    list.push(...stored)
    ev.set(deploymentId, list)
    return stored
  }
  return {
    async create (d, events = []) {
      if (m.has(d.id)) throw new ConflictError(`deployment ${d.id} already exists`)
      m.set(d.id, jsonCopy(d))
      append(d.id, events)
    },
    async get (id) { const v = m.get(id); return v === undefined ? undefined : jsonCopy(v) },
    async update (id, patch, events = []) {
      const stored = m.get(id)
      if (stored === undefined) throw new NotFoundError(`no deployment ${id}`)
      const next = applyPatch(stored, { ...patch, id })
      m.set(id, next)
      append(id, events)
      return jsonCopy(next)
    },
    async listByMachine (mac) {
      return sortedValues(m).filter(d => d.mac === mac).sort(byCreated)
    },
    async list () { return sortedValues(m) },
    async appendEvent (e) {
      const { deploymentId, ...rest } = e
      return jsonCopy(append(deploymentId, [rest])[0] as DeploymentEvent)
    },
    async events (id) { return jsonCopy(ev.get(id) ?? []) }
  }
}

function keyed<T> (key: (v: T) => string): { get (k: string): Promise<T | undefined>, put (v: T): Promise<void>, delete (k: string): Promise<void>, list (): Promise<T[]> } {
  const m = new Map<string, T>()
  return {
    async get (k) { const v = m.get(k); return v === undefined ? undefined : jsonCopy(v) },
    async put (v) { m.set(key(v), jsonCopy(v)) },
    async delete (k) { m.delete(k) },
    async list () { return sortedValues(m) }
  }
}

export function createMemoryStore (): Store {
  return {
    machines: machines(),
    deployments: deployments(),
    leases: keyed<Lease>(l => l.mac) satisfies LeaseStore,
    images: keyed<ImageEntry>(i => i.id) satisfies ImageCatalog,
    close: async () => {}
  }
}
