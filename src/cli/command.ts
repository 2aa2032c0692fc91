// One file per subcommand under src/cli/; each exports a CliCommand and is listed in src/cli/index.ts.
export interface CliIO {
  out (line: string): void
  err (line: string): void
}

export interface CliCommand {
  name: string              // e.g. 'check-config', or 'images' for a group with its own sub-verbs
  summary: string           // one line for `netboot --help`
  usage: string             // full text for `netboot NAME --help`
  /** Returns the process exit code. argv excludes the command name. Long-running commands resolve when done. */
  run (argv: string[], io: CliIO): Promise<number>
}
