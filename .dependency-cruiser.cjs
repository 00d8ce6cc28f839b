/**
 * The layers of src/, bottom to top (docs/architecture.md): a module imports only its own layer and
 * the layers below it, and nothing imports in a circle. `npm test` runs this check first.
 */
const layers = ['contract', 'aws', 'storage|queue|media', 'pipeline', 'tasks', 'daemon|dashboard', 'cli'];

const upward = layers.slice(0, -1).map((layer, i) => ({
  name: `no-upward-from-${layer.replaceAll('|', '-')}`,
  comment: `${layer} sits below ${layers.slice(i + 1).join(', ')}: it must not import them`,
  severity: 'error',
  from: { path: `^src/(${layer})/` },
  to: { path: `^src/(${layers.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-circular',
      comment: 'a cycle makes two modules one: merge them or move what they share down',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'storage-queue-media-apart',
      comment: 'S3, SQS and the media tools are separate services on one floor: the pipeline and the plug-ins combine them',
      severity: 'error',
      from: { path: '^src/(storage|queue|media)/' },
      to: { path: '^src/(storage|queue|media)/', pathNot: '^src/$1/' },
    },
    {
      name: 'storage-imports-only-the-contract',
      comment: 'storage talks to S3 with the SDK and knows only the contract',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/', pathNot: '^src/(storage|contract)/' },
    },
    {
      name: 'daemon-dashboard-apart',
      comment: 'the worker and the dashboard are two processes on one floor: each takes what it shares from below, and the CLI starts either',
      severity: 'error',
      from: { path: '^src/(daemon|dashboard)/' },
      to: { path: '^src/(daemon|dashboard)/', pathNot: '^src/$1/' },
    },
    {
      name: 'kinds-apart',
      comment: 'a kind plug-in does not reach into another kind: what they share belongs in the host',
      severity: 'error',
      from: { path: '^src/tasks/([^/]+)/' },
      to: { path: '^src/tasks/[^/]+/', pathNot: '^src/tasks/$1/' },
    },
    {
      name: 'src-does-not-import-tests-or-benches',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // TypeScript 7 has no JS API for the cruiser; swc parses the .ts sources, type-only imports included.
    parser: 'swc',
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
