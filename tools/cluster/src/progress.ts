/** Human progress lines for the terminal; the services themselves log JSON. */
export interface Progress {
  step(message: string): void;
  done(message: string): void;
  fail(message: string): void;
  table(rows: Array<[string, string]>): void;
}

export function terminalProgress(out: NodeJS.WritableStream = process.stdout): Progress {
  const color = (code: number, text: string) =>
    'isTTY' in out && out.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text;
  return {
    step: (message) => out.write(`${color(34, '==>')} ${message}\n`),
    done: (message) => out.write(`    ${color(32, '✓')} ${message}\n`),
    fail: (message) => out.write(`    ${color(31, '✗')} ${message}\n`),
    table: (rows) => {
      const width = Math.max(...rows.map(([name]) => name.length));
      for (const [name, where] of rows) out.write(`    ${name.padEnd(width)}  ${where}\n`);
    },
  };
}
