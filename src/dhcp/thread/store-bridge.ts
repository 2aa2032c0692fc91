// The main thread's side of remote-store.ts: runs the DHCP thread's store calls on the real store, one method of
// protocol.ts BRIDGED_METHODS at a time, and posts each outcome back. Anything else is refused, never run. The
// warm-up's calls (dryRun) are answered by a stub that keeps nothing: its synthetic machines never reach the store.
import type { Store } from '../../store/types.js'
import { BRIDGED_METHODS, type FromThread, type ToThread } from './protocol.js'
import { toWireError } from './wire-error.js'
import { warmUpMachineStore } from '../warmup.js'

type Call = Extract<FromThread, { type: 'call' }>

/** What answers the warm-up's dry-run calls: machines only, and nothing is kept. */
const dryRunStore = { machines: warmUpMachineStore() } as unknown as Store

export function serveStoreCall (store: Store, c: Call, post: (m: ToThread) => void): void {
  const allowed = (BRIDGED_METHODS[c.table] as readonly string[] | undefined)?.includes(c.method) === true
  const run = async (): Promise<unknown> => {
    if (!allowed) throw new Error(`store.${String(c.table)}.${c.method} is not bridged to the DHCP thread`)
    if (c.dryRun && c.table !== 'machines') throw new Error(`store.${c.table}.${c.method}: no dry run (only machines)`)
    const table = (c.dryRun ? dryRunStore : store)[c.table] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
    return await table[c.method](...c.args)
  }
  run().then(
    value => { post({ type: 'result', id: c.id, ok: true, value }) },
    (err: unknown) => { post({ type: 'result', id: c.id, ok: false, error: toWireError(err) }) })
}
