// openStore(cfg): the daemon's and the CLI's way to the state store — level at <paths.state>/db.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { AppConfig } from '../config/schema.js'
import type { Store } from './types.js'
import { openLevelStore } from './level.js'
import { storeError } from './errors.js'

export { createMemoryStore } from './memory.js'
export { openLevelStore } from './level.js'
export { createBrokenStore, failingStore } from './broken.js'
export { StoreLockedError, storeError } from './errors.js'
export type * from './types.js'

/** Where the level database of this config lives. */
export function storeDir (cfg: Pick<AppConfig, 'paths'>): string {
  return join(cfg.paths.state, 'db')
}

/**
 * Open the state store of this config, creating the directories. Rejects with StoreLockedError (code
 * NB_ERR_STORE_LOCKED, message says what to do) when a running daemon holds it, StoreError otherwise.
 */
export async function openStore (cfg: Pick<AppConfig, 'paths'>): Promise<Store> {
  const dir = storeDir(cfg)
  try {
    await mkdir(dir, { recursive: true })
  } catch (err) {
    throw storeError(`cannot create ${dir}`, err)
  }
  return await openLevelStore(dir)
}
