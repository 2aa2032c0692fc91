// The V8 flags `netboot serve` is meant to run with. They must be on node's command line (V8 sizes its heap when
// the process starts; NODE_OPTIONS refuses --min-semi-space-size), so systemd/netboot.service, `npm start` and the
// bench's lab service (test/dhcp/lab/netns.ts) all pass this list, and `serve` logs a notice when they are missing.
//
// --min-semi-space-size / --max-semi-space-size 16 (MB): a young generation of fixed size. Left to itself V8 shrinks
// it while the appliance is idle and grows it again, page by page, when the next boot storm comes: bench/dhcp/
// diagnose.ts --idle 10 (2026-11-24, 2 vCPUs, storms of 10,000 DISCOVERs after 10 s idle each): 2,300–3,400 page
// faults in the DHCP thread per storm → 107–304, and replies over 0.15 ms 501–870 per warm storm → 245–374.
// Cost: ~32 MB of memory held for the young generation.
export const SERVE_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=16']

/** The flags of SERVE_NODE_FLAGS that this process was not started with. */
export function missingServeFlags (execArgv: readonly string[] = process.execArgv): string[] {
  return SERVE_NODE_FLAGS.filter(f => !execArgv.includes(f))
}
