/**
 * Where the tests find conformance cases.
 *
 * - {@link CASES_DIR}: the in-repo cases, `tests/conformance/cases/`, written by
 *   the generators of `tests/conformance/gen/` (`npm run conformance:gen`).
 *   Every test that needs a case reads it from here, so a clone with nothing
 *   beside it passes its tests.
 * - {@link SHARED_CONFORMANCE_DIR}: an extra folder of cases that the runner
 *   can also be pointed at: `conformance/` of `MIMKIT_SHARED_DIR` if set, else
 *   `../shared/conformance` next to the repository; `null` when it does not
 *   exist or `MIMKIT_NO_SHARED=1` hides it (as `.ci/run` does, to test what
 *   a user's clone sees).
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The in-repo cases. */
export const CASES_DIR = fileURLToPath(new URL('./cases/', import.meta.url));

/** `<CASES_DIR>/<name>.safetensors`. */
export function caseFile(name: string): string {
  return join(CASES_DIR, `${name}.safetensors`);
}

function sharedDir(): string | null {
  if (process.env.MIMKIT_NO_SHARED === '1') return null;
  const root = process.env.MIMKIT_SHARED_DIR ? resolve(process.env.MIMKIT_SHARED_DIR) : resolve(REPO_ROOT, '../shared');
  const dir = join(root, 'conformance');
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : null;
}

/** The extra (shared) conformance folder, or `null` when absent or hidden. */
export const SHARED_CONFORMANCE_DIR: string | null = sharedDir();
