// The appliance's HTTP service alone, for bench/http/bench.ts: serves DIR/bench.wim as image `bench` on a free
// loopback port and prints {"port": N} once listening. Run as its own process so its VmHWM is its own.
//   node --import tsx bench/http/server.ts DIR
import { loadConfigText } from '../../src/config/load.js'
import { staticConfig } from '../../src/config/holder.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { createLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import { createService } from '../../src/http/service.js'

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: server.ts DIR')
const yaml = `server: {address: 127.0.0.1, bind: 127.0.0.1}
ports: {http: 0}
dhcp: {mode: off}
tftp: {enabled: false, root: ${dir}}
paths: {images: ${dir}, state: ${dir}/state, pe: ${dir}, files: ${dir}}
images: [{id: bench, file: bench.wim}]
`
const r = await loadConfigText(yaml, `${dir}/bench.yaml`, { cwd: dir, checkFiles: false })
if (!r.ok) throw new Error(JSON.stringify(r.errors))
const ctx = { config: staticConfig(r.config), store: createMemoryStore(), log: createLogger({ level: 'warn' }), clock: systemClock }
const svc = createService(ctx)
if (svc === undefined) throw new Error('http disabled')
await svc.start()
process.stdout.write(JSON.stringify({ port: svc.port() }) + '\n')
process.on('SIGTERM', () => { void svc.stop().then(() => process.exit(0)) })
