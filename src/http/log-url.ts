// URLs as they go to the log: query secrets (the WinPE config's deployment token, the PXE password) masked.
export function safeUrl (url: string): string {
  return url.replace(/([?&](?:token|password)=)[^&]*/gi, '$1***')
}
