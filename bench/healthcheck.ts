/**
 * `npm run bench:healthcheck [-- --rounds=20]`
 *
 * The cost of one container health check probe, against a tiny HTTP server in this process answering 200
 * on /healthz. Side by side in one run, contenders' order rotated each round (medians):
 * - `node bin/stageline.js healthcheck`: the probe as the image runs it;
 * - `node dist/cli/main.js healthcheck`: the same probe after loading the whole application, as every
 *   probe did before bin/stageline.js dispatched it first;
 * - `node -e ''`: Node's own start-up, the floor under any probe written for Node.
 * Each run under /usr/bin/time (Debian's `time`): wall clock, user+system CPU and peak RSS of that process.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]));
const rounds = Number(args.get('rounds') ?? 20);
const root = fileURLToPath(new URL('../', import.meta.url));

const contenders: Record<string, string[]> = {
  'stageline healthcheck (bin/stageline.js)': ['bin/stageline.js', 'healthcheck'],
  'whole application, then the probe (dist/cli/main.js)': ['dist/cli/main.js', 'healthcheck'],
  "bare node (node -e '')": ['-e', ''],
};

interface Sample {
  wallMs: number;
  cpuMs: number;
  rssMb: number;
}

function timed(argv: string[], port: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/time', ['-f', '%e %U %S %M %x', process.execPath, ...argv], { cwd: root, env: { PATH: process.env.PATH ?? '', HTTP_PORT: String(port) } }, (err, _stdout, stderr) => {
      const fields = stderr.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
      const [wall, user, sys, rssKb, exit] = fields;
      if (err || exit !== 0 || fields.length !== 5) return reject(new Error(`${argv.join(' ')} failed: ${stderr}`));
      resolve({ wallMs: wall! * 1000, cpuMs: (user! + sys!) * 1000, rssMb: rssKb! / 1024 });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end('{"ok":true}'));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const address = server.address();
if (!address || typeof address !== 'object') throw new Error('no port');

const names = Object.keys(contenders);
const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
for (const name of names) await timed(contenders[name]!, address.port); // warm-up: page cache
for (let round = 0; round < rounds; round++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(round + i) % names.length]!;
    samples.get(name)!.push(await timed(contenders[name]!, address.port));
  }
}
server.close();

console.log(`${rounds} rounds, node ${process.version}, medians (min-max)\n`);
console.log('| probe | wall ms | CPU ms (user+sys) | peak RSS MB |');
console.log('| --- | --- | --- | --- |');
for (const [name, list] of samples) {
  const cell = (pick: (s: Sample) => number, digits = 0) => {
    const xs = list.map(pick);
    return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
  };
  console.log(`| ${name} | ${cell((s) => s.wallMs)} | ${cell((s) => s.cpuMs)} | ${cell((s) => s.rssMb, 1)} |`);
}
