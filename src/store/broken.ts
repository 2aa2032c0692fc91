// Stores that fail, for the failure-path tests of every caller (DHCP stays silent, HTTP answers 503, …).
import type { Store } from './types.js'
import { storeError } from './errors.js'

type Collection = 'machines' | 'deployments' | 'leases' | 'images'
const COLLECTIONS: readonly Collection[] = ['machines', 'deployments', 'leases', 'images']

/**
 * Wrap a store so that a call rejects with StoreError whenever `fails(collection, method)` returns true at call
 * time (flip it in a test to break the store halfway through). close() always goes through to the inner store.
 */
export function failingStore (inner: Store, fails: (collection: Collection, method: string) => boolean): Store {
  const wrap = (c: Collection): any => new Proxy(inner[c] as object, {
    get (target, method: string) {
      const fn = (target as Record<string, unknown>)[method]
      if (typeof fn !== 'function') return fn
      return async (...args: unknown[]) => {
        if (fails(c, method)) throw storeError(`${c}.${method}`, new Error('injected failure (broken store)'))
        return await fn.apply(target, args)
      }
    }
  })
  const out = Object.fromEntries(COLLECTIONS.map(c => [c, wrap(c)])) as unknown as Store
  out.close = async () => { await inner.close() }
  return out
}

/** A store whose every call rejects with StoreError (code NB_ERR_STORE); close() resolves. */
export function createBrokenStore (): Store {
  const reject = async (): Promise<never> => { throw storeError('broken store', new Error('injected failure (broken store)')) }
  const coll = { get: reject, put: reject, delete: reject, list: reject, recordSighting: reject, recordSightings: reject, ping: reject, update: reject, create: reject, listByMachine: reject, appendEvent: reject, events: reject }
  return { machines: coll, deployments: coll, leases: coll, images: coll, close: async () => {} }
}
