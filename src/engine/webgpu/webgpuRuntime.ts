/**
 * WebGPU in Node: the `webgpu` package (Dawn's bindings, prebuilt for macOS, Linux and
 * Windows inside the package) provides `navigator.gpu`, on which
 * `@tensorflow/tfjs-backend-webgpu` runs: Metal on macOS, Direct3D 12 on Windows,
 * Vulkan on Linux. Both are optional peers of fastvision.
 */

/** The adapter WebGPU computes on, as `backendInfo().adapter` and `fastvision info` report it. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  /**
   * A software implementation on the CPU (SwiftShader, lavapipe, WARP): it proves
   * correctness, never speed, and is never picked automatically.
   */
  software: boolean;
}

/** The packages the webgpu backend needs besides `@tensorflow/tfjs-backend-webgpu`. */
export const webgpuPeer = 'webgpu';

interface DawnModule {
  create(flags: string[]): object;
  globals: Record<string, unknown>;
}

interface Adapter {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

let gpu: { requestAdapter(): Promise<Adapter | null> } | undefined;

/**
 * Makes WebGPU available as tfjs-backend-webgpu expects it (`navigator.gpu` and the
 * `GPU*` constants on `globalThis`), once per process, and returns the adapter it gets.
 *
 * @param load - Loads `webgpu` (fastvision's require, so the package resolves from the
 *   user's project).
 * @throws when the package does not load or no adapter is found (no driver with
 *   Vulkan, Metal or Direct3D 12).
 */
export async function webgpuAdapter(load: (pkg: string) => unknown): Promise<GpuAdapterInfo> {
  if (!gpu) {
    const dawn = load(webgpuPeer) as DawnModule;
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    const created = dawn.create([]);
    // Node ≥ 21 has a navigator without gpu; Node 20 has none.
    const nav = ((globalThis as { navigator?: object }).navigator ??= {}) as { gpu?: unknown };
    if (!nav.gpu) Object.defineProperty(nav, 'gpu', { value: created, configurable: true });
    gpu = nav.gpu as typeof gpu;
  }
  const adapter = await gpu!.requestAdapter();
  if (!adapter) throw new Error('WebGPU found no adapter (a GPU driver with Vulkan, Metal or Direct3D 12 is needed)');
  const info = adapter.info ?? {};
  const [vendor, architecture, description] = [info.vendor ?? '', info.architecture ?? '', info.description ?? ''];
  const software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe|warp|software/i.test(`${architecture} ${description}`);
  return { vendor, architecture, description, software };
}

/**
 * The adapter in a phrase, as `fastvision info` and the example's report print it.
 *
 * @param a - An adapter, e.g. `backendInfo().adapter` on the webgpu backend.
 * @example
 * ```ts
 * const { adapter } = backendInfo();
 * if (adapter) console.log(describeAdapter(adapter)); // google swiftshader (SwiftShader driver 5.0.0), software: runs on the CPU
 * ```
 */
export function describeAdapter(a: GpuAdapterInfo): string {
  return `${[a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter'}${a.description ? ` (${a.description})` : ''}${a.software ? ', software: runs on the CPU' : ''}`;
}
