import t from 'tap'
import { createMemoryStore } from '../../src/store/memory.js'
import { storeContract } from './contract.js'

storeContract(t, { open: async () => createMemoryStore() })
