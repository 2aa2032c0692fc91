// The main thread's side of remote-store.ts: runs the DHCP thread's store calls on the real store, one method of
// protocol.ts BRIDGED_METHODS at a time, and posts each outcome back. Anything else is refused, never run.
import type { Store } from '../../store/types.js'
import { BRIDGED_METHODS, type FromThread, type ToThread } from './protocol.js'
import { toWireError } from './wire-error.js'

type Call = Extract<FromThread, { type: 'call' }>

export function serveStoreCall (store: Store, c: Call, post: (m: ToThread) => void): void {
  const allowed = (BRIDGED_METHODS[c.table] as readonly string[] | undefined)?.includes(c.method) === true
  const run = async (): Promise<unknown> => {
    if (!allowed) throw new Error(`store.${String(c.table)}.${c.method} is not bridged to the DHCP thread`)
    const table = store[c.table] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    return await table[c.method](...c.args)
  }
  run().then(
    value => { post({ type: 'result', id: c.id, ok: true, value }) },
    (err: unknown) => { post({ type: 'result', id: c.id, ok: false, error: toWireError(err) }) })
}
