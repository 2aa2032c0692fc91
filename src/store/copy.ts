// Both stores hand out and keep JSON copies, so a caller can never mutate stored state through a reference and
// the in-memory store behaves exactly like the level one (undefined-valued keys vanish, Dates become strings).
export function jsonCopy<T> (v: T): T {
  return JSON.parse(JSON.stringify(v)) as T
}

/**
 * Apply a patch the way both stores do: keys present in the patch replace stored ones; a key present with the
 * value `undefined` removes the field (e.g. clearing `reimageAfter` or a deployment's `error`).
 */
export function applyPatch<T extends object> (stored: T, patch: object): T {
  return jsonCopy({ ...stored, ...patch })
}

/**
 * Merge a sighting: only defined fields overwrite; firstSeen never goes forwards and lastSeen never backwards. A
 * sighting can arrive after a later one: DHCP writes its sightings behind a boot storm (src/dhcp/inventory.ts),
 * while the machine's iPXE request may have been recorded already (src/http/boot-flow.ts).
 */
export function mergeSighting<M extends { firstSeen: string, lastSeen: string }> (
  stored: M | undefined, sighting: object, at: Date
): M {
  const iso = at.toISOString()
  const defined = Object.fromEntries(Object.entries(sighting).filter(([, v]) => v !== undefined))
  if (stored === undefined) return jsonCopy({ ...defined, firstSeen: iso, lastSeen: iso }) as M
  const firstSeen = stored.firstSeen < iso ? stored.firstSeen : iso
  const lastSeen = stored.lastSeen > iso ? stored.lastSeen : iso
  return jsonCopy({ ...stored, ...defined, firstSeen, lastSeen })
}

/** Deployments of one machine, oldest first (createdAt, then id for ties). */
export function byCreated<D extends { createdAt: string, id: string }> (a: D, b: D): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
