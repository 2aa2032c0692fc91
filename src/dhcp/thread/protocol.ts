// Messages between the main thread and the DHCP thread (src/dhcp/thread/): structured-clone plain objects only.
// The DHCP thread owns the sockets and the Responder; the main thread owns the state store, the config watcher and
// the log destination, and serves the DHCP thread's store calls (store-bridge.ts).
import type { AppConfig } from '../../config/schema.js'

/** The store tables and methods the DHCP thread may call (Responder, Inventory, gate, leases in full mode). */
export const BRIDGED_METHODS = {
  machines: ['get', 'recordSighting', 'recordSightings', 'ping', 'update', 'list'],
  leases: ['get', 'put', 'delete', 'list']
} as const
export type BridgedTable = keyof typeof BRIDGED_METHODS

/** An error as it crosses the thread boundary: enough to log it and to rebuild a BindError (errors.ts). */
export interface WireError {
  name: string
  message: string
  code?: string
  stack?: string
  /** BindError only: what could not be bound */
  bind?: { service: string, address: string, port: number, cause: { code?: string, message: string } }
}

/** What the DHCP thread gets at start (workerData). */
export interface ThreadInit {
  config: AppConfig
  logLevel: string
}

export type ToThread =
  | { type: 'config', config: AppConfig }
  | { type: 'result', id: number, ok: true, value: unknown }
  | { type: 'result', id: number, ok: false, error: WireError }
  /** close the sockets and end the thread (threaded-service.ts waits for the thread's exit) */
  | { type: 'stop' }

export type FromThread =
  /** dryRun: the warm-up's call, answered from warmup.ts warmUpMachineStore and never run on the store */
  | { type: 'call', id: number, table: BridgedTable, method: string, args: unknown[], dryRun: boolean }
  /** one pino line, as the thread's logger wrote it */
  | { type: 'log', line: string }
  /** listening: the bound ports and the thread's Linux thread id (for `top -H`, taskset) */
  | { type: 'started', ports: { dhcp?: number, proxyDhcp?: number }, tid?: number }
  | { type: 'start-failed', error: WireError }
