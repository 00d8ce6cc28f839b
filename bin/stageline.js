#!/usr/bin/env node
// The compiled CLI (`npm ci` builds it through the prepare script). The health check, run by ECS every
// 30 s, goes straight to its own module of node builtins: the application's imports would cost each probe
// over a second of CPU and 120 MB.
if (process.argv[2] === 'healthcheck') {
  const { runHealthcheck } = await import('../dist/cli/healthcheck.js');
  process.exitCode = await runHealthcheck(process.env);
} else {
  await import('../dist/cli/main.js');
}
