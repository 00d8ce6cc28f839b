// The pool's thread entry when stageline runs from its TypeScript source (tests, benches): Node 20 does
// not carry `--import tsx` into worker threads, so the thread registers tsx before loading the task.
import { register } from 'tsx/esm/api';

register();
const { default: task } = await import('./thread-main.ts');
export default task;
