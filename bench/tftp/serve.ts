// Runs the appliance's TFTP service alone on a loopback port, for the benchmark (a process of its own, like the
// reference servers). Usage: tsx bench/tftp/serve.ts ROOT PORT [BUSY_POLL_MICROSECONDS]
import { createTftpService } from '../../src/tftp/service.js'
import { staticConfig } from '../../src/config/holder.js'
import { createLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import type { Store } from '../../src/store/types.js'
import { tftpConfig } from '../../test/tftp/helpers.js'

const [root, port, busyPoll] = process.argv.slice(2)
const cfg = tftpConfig(root, { maxTransfersPerClient: 1000, ...(busyPoll !== undefined ? { busyPollMicroseconds: Number(busyPoll) } : {}) }) as unknown as { ports: { tftp: number } }
cfg.ports.tftp = Number(port)
const log = createLogger({ level: process.env.NETBOOT_LOG_LEVEL ?? 'warn' })
const svc = createTftpService({ config: staticConfig(cfg as never), store: {} as Store, log, clock: systemClock })
await svc.start()
process.stdout.write('ready\n')
process.on('SIGTERM', () => { void svc.stop().then(() => process.exit(0)) })
