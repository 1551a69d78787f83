/**
 * Safe unpickling of PyTorch state dicts and argparse namespaces.
 *
 * pickleparser interprets the opcode stream in JavaScript and never runs Python code; on top
 * of that, global names (GLOBAL / STACK_GLOBAL) resolve only through an allow-list. Anything
 * else (e.g. `os.system`, `builtins.eval`) is a CheckpointError naming the global.
 */
import { Parser } from 'pickleparser';
import { CheckpointError } from '../errors.js';

/** A tensor as described by the pickle: which storage, and how to view it. */
export interface TorchTensorRef {
  kind: 'tensor';
  storageKey: string;
  dtype: 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';
  offset: number;
  shape: number[];
  stride: number[];
}

interface StorageRef {
  kind: 'storage';
  key: string;
  dtype: TorchTensorRef['dtype'];
}

const STORAGE_DTYPES: Record<string, TorchTensorRef['dtype']> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** Plain class that receives an argparse.Namespace's attributes. */
class Namespace {}

function storageMarker(dtype: TorchTensorRef['dtype']): { dtype: TorchTensorRef['dtype'] } {
  return { dtype };
}

function rebuildTensor(storage: StorageRef, offset: number, size: number[], stride: number[]): TorchTensorRef {
  if (!storage || storage.kind !== 'storage') throw new CheckpointError('tensor without a storage in pickle');
  return { kind: 'tensor', storageKey: storage.key, dtype: storage.dtype, offset, shape: [...size], stride: [...stride] };
}

function resolveGlobal(module: string, name: string, source: string): unknown {
  const fqn = `${module}.${name}`;
  if (fqn === 'collections.OrderedDict') return () => new Map();
  if (fqn === 'torch._utils._rebuild_tensor_v2') return rebuildTensor;
  if (fqn === 'torch._utils._rebuild_parameter') return (t: TorchTensorRef) => t;
  if (module === 'torch' && name in STORAGE_DTYPES) return storageMarker(STORAGE_DTYPES[name]);
  if (fqn === 'argparse.Namespace') return Namespace;
  throw new CheckpointError(`${source}: refusing to unpickle global ${fqn} (not on the allow-list)`);
}

/**
 * Unpickle a stream with the allow-list.
 * @param bytes the pickle stream
 * @param source file name for error messages
 * @returns the unpickled value: dicts as Map, tuples/lists as arrays, tensors as TorchTensorRef,
 *   argparse.Namespace as a plain object
 * @throws CheckpointError on a disallowed global or a malformed stream
 */
export function unpickle(bytes: Uint8Array, source: string): unknown {
  const parser = new Parser({
    nameResolver: { resolve: (module: string, name: string) => resolveGlobal(module, name, source) },
    persistentResolver: {
      resolve: (pid: unknown) => {
        // torch.save: ('storage', storage_type, key, location, numel)
        if (!Array.isArray(pid) || pid[0] !== 'storage' || typeof pid[2] !== 'string') {
          throw new CheckpointError(`${source}: unexpected persistent id in pickle`);
        }
        const marker = pid[1] as { dtype?: TorchTensorRef['dtype'] };
        if (!marker?.dtype) throw new CheckpointError(`${source}: unknown storage type in pickle`);
        return { kind: 'storage', key: pid[2], dtype: marker.dtype } satisfies StorageRef;
      },
    },
    unpicklingTypeOfDictionary: 'Map',
  } as never);
  try {
    return parser.parse(bytes as never);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${source}: corrupt pickle stream (${(e as Error).message})`);
  }
}

/** Turn an unpickled Namespace (or dict) into a plain record. */
export function toRecord(v: unknown, source: string): Record<string, unknown> {
  if (v instanceof Map) return Object.fromEntries(v);
  if (v && typeof v === 'object') return { ...(v as Record<string, unknown>) };
  throw new CheckpointError(`${source}: expected an argparse.Namespace`);
}
