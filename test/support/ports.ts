import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port on 127.0.0.1 that nothing listens on, for "connection refused" tests: checked by binding it and closing it
 * again, and taken below the kernel's ephemeral range. (A port bound at :0 and closed goes back into that range, and
 * Linux hands each later bind at :0 a random odd port of it — the fake servers', code-server's, those of test files
 * running in parallel — so each of them took the "closed" port again with probability about 1/14,000.)
 */
export async function closedPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: 32768 is where the ephemeral ranges of Linux and the BSDs' high range begin; IANA's is 49152.
  }
  for (let port = Math.min(low, 32768) - 1; port > 1024; port--) {
    const free = await new Promise<boolean>((ok) => {
      const srv = createServer();
      srv.once('error', () => ok(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => ok(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port on 127.0.0.1 below the ephemeral range');
}
