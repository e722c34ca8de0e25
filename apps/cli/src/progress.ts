/** One progress line on stderr, redrawn in place on a terminal and appended otherwise. */
export function progressLine(enabled: boolean): (done: number, total: number, label: string) => void {
  const tty = process.stderr.isTTY;
  const t0 = performance.now();
  return (done, total, label) => {
    if (!enabled) return;
    const width = 24;
    const filled = Math.round((done / Math.max(total, 1)) * width);
    const elapsed = (performance.now() - t0) / 1000;
    const eta = done > 0 ? (elapsed / done) * (total - done) : 0;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${elapsed.toFixed(0)}s, ~${eta.toFixed(0)}s left  ${label}`;
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
    if (tty && done === total) process.stderr.write('\n');
  };
}
