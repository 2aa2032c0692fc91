// The DHCP thread's view of the state store: each call is posted to the main thread (store-bridge.ts), which runs
// it on the real store and posts the result back. Only the tables the DHCP side uses exist (protocol.ts
// BRIDGED_METHODS); the others reject, so a new use shows up in tests rather than as a hang.
import type { Store } from '../../store/types.js'
import { BRIDGED_METHODS, type BridgedTable, type FromThread, type ToThread } from './protocol.js'
import { fromWireError } from './wire-error.js'

type Result = Extract<ToThread, { type: 'result' }>

export interface RemoteStore {
  store: Store
  /**
   * For the DHCP warm-up: while on, every call goes to the main thread marked as a dry run, and the main thread
   * answers it from a stub without touching the store (store-bridge.ts). The warm-up thus drives the very objects,
   * closures and message path real traffic uses. Measured in bench/dhcp: a warm-up against a stub store of another
   * shape left Inventory.drain/writeMany optimized for the stub, and the first real batch of a storm deoptimized
   * them (`wrong map`, then `wrong call target`) and had them recompiled on a V8 worker thread, on the serving
   * thread's CPU; answering in-thread instead left the posting call site without feedback (the same deopt).
   */
  dryRun (on: boolean): void
  /** Settles the call a result answers. */
  settle (r: Result): void
  /** Rejects every call still waiting (the thread is stopping). */
  abandon (why: string): void
}

export function remoteStore (post: (m: FromThread) => void): RemoteStore {
  let nextId = 1
  const waiting = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  let dryRun = false
  const call = (table: BridgedTable, method: string, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      waiting.set(id, { resolve, reject })
      post({ type: 'call', id, table, method, args, dryRun })
    })
  const table = (name: BridgedTable): Record<string, (...args: unknown[]) => Promise<unknown>> =>
    Object.fromEntries(BRIDGED_METHODS[name].map(m => [m, async (...args: unknown[]) => await call(name, m, args)]))
  const unavailable = (name: string): never => new Proxy({}, {
    get: (_t, method) => async () => { throw new Error(`store.${name}.${String(method)} is not available in the DHCP thread`) }
  }) as never
  const store = {
    machines: table('machines'),
    leases: table('leases'),
    deployments: unavailable('deployments'),
    images: unavailable('images'),
    close: async () => {}
  } as unknown as Store
  return {
    store,
    dryRun (on) { dryRun = on },
    settle (r) {
      const w = waiting.get(r.id)
      if (w === undefined) return
      waiting.delete(r.id)
      if (r.ok) w.resolve(r.value)
      else w.reject(fromWireError(r.error))
    },
    abandon (why) {
      for (const w of waiting.values()) w.reject(new Error(why))
      waiting.clear()
    }
  }
}
