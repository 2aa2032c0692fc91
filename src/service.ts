// What app.ts wires together. Each protocol exports a factory (ctx) => Service; only its server.ts opens sockets.
import type { Logger } from './log.js'
import type { Clock } from './clock.js'
import type { Store } from './store/types.js'
import type { ConfigHolder } from './config/holder.js'

export interface AppContext {
  config: ConfigHolder
  store: Store
  log: Logger
  clock: Clock
}

export interface Service {
  readonly name: string
  /** Binds sockets. Rejects with a BindError that says what to do when a port cannot be bound. */
  start (): Promise<void>
  stop (): Promise<void>
}

export type ServiceFactory = (ctx: AppContext) => Service | undefined
