import pkg from '../package.json' with { type: 'json' };

/**
 * fastvision's version, as in its package.json.
 *
 * @example
 * ```ts
 * console.log(`fastvision ${version}`);
 * ```
 */
export const version: string = pkg.version;
