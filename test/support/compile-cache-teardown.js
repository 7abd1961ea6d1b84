/** Jest's global teardown: removes the run's compile cache (see compile-cache-setup.js). */
import { rmSync } from 'node:fs';

export default function teardown() {
  const dir = process.env.VIGIL_TEST_COMPILE_CACHE;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
