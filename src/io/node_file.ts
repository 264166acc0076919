import {
  parseSafetensors,
  serializeSafetensors,
  type ParseSafetensorsOptions,
  type SafetensorsFile,
  type SafetensorsInput,
  type SerializeSafetensorsOptions,
} from './safetensors.js';

/**
 * `node:fs/promises`, loaded only when a file function is called, so that a
 * browser bundle of the library never pulls in Node modules.
 */
async function fsPromises(): Promise<typeof import('node:fs/promises')> {
  // A variable specifier plus ignore hints: bundlers (vite, webpack, esbuild)
  // then leave the import alone instead of trying to resolve a Node module.
  const specifier = 'node:fs/promises';
  try {
    return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as typeof import('node:fs/promises');
  } catch (e) {
    throw new Error(
      `safetensors files: node:fs/promises is unavailable (these functions are Node-only; in a browser, ` +
        `fetch the bytes and call parseSafetensors): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * Reads and validates a safetensors file from disk (Node only; in a browser
 * use `parseSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()))`).
 */
export async function readSafetensorsFile(path: string, options: ParseSafetensorsOptions = {}): Promise<SafetensorsFile> {
  if (typeof path !== 'string' || path === '') {
    throw new Error(`readSafetensorsFile: path must be a non-empty string, got ${String(path)}`);
  }
  const fs = await fsPromises();
  const bytes = await fs.readFile(path);
  try {
    return parseSafetensors(bytes, options);
  } catch (e) {
    throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Writes tensors as a safetensors file (Node only); same arguments as
 * {@link serializeSafetensors}, whose bytes it writes and returns.
 */
export async function writeSafetensorsFile(
  path: string,
  entries: Record<string, SafetensorsInput> | Map<string, SafetensorsInput>,
  metadata: Record<string, string> = {},
  options: SerializeSafetensorsOptions = {},
): Promise<Uint8Array> {
  if (typeof path !== 'string' || path === '') {
    throw new Error(`writeSafetensorsFile: path must be a non-empty string, got ${String(path)}`);
  }
  const bytes = serializeSafetensors(entries, metadata, options);
  const fs = await fsPromises();
  await fs.writeFile(path, bytes);
  return bytes;
}
