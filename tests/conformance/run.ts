/**
 * Conformance runner CLI:
 *
 *   npm run conformance -- [folder] [--backend cpu|wasm]
 *
 * `folder` defaults to the in-repo cases, `tests/conformance/cases/` (any
 * folder of cases works: `npm run conformance -- ../shared/conformance`);
 * the backend defaults to `cpu`. Prints `PASS <name> max_abs_err=<x>`
 * or `FAIL <name> <reason>` per case, then `N passed, N failed`; exits 1 if
 * any case failed (or if the folder holds no case: a wrong path must not
 * pass), 2 on bad arguments or a missing folder.
 */
import { resolve } from 'node:path';
import type { BackendName } from '../backend.js';
import { CASES_DIR } from './paths.js';
import { runConformance } from './runner.js';

const USAGE = 'usage: npm run conformance -- [folder] [--backend cpu|wasm]';

function parseArgs(argv: string[]): { folder: string; backend: BackendName } {
  let folder: string | undefined;
  let backend: string = 'cpu';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a === '--backend') {
      const v = argv[++i];
      if (v === undefined) throw new Error('--backend needs a value (cpu or wasm)');
      backend = v;
    } else if (a.startsWith('--backend=')) {
      backend = a.slice('--backend='.length);
    } else if (a.startsWith('-')) {
      throw new Error(`unknown option '${a}'`);
    } else if (folder === undefined) {
      folder = a;
    } else {
      throw new Error(`only one folder may be given, got '${folder}' and '${a}'`);
    }
  }
  if (backend !== 'cpu' && backend !== 'wasm') throw new Error(`--backend must be cpu or wasm, got '${backend}'`);
  return { folder: folder !== undefined ? resolve(folder) : CASES_DIR, backend };
}

async function main(): Promise<number> {
  let args: { folder: string; backend: BackendName };
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  let run;
  try {
    run = await runConformance(args.folder, { backend: args.backend, log: (line) => console.log(line) });
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  if (run.results.length === 0) {
    console.error(`no *.safetensors cases in ${args.folder}`);
    return 1;
  }
  return run.failed > 0 ? 1 : 0;
}

process.exitCode = await main();
