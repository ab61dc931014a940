import pkg from '../package.json' with { type: 'json' };

/** fastvision's version, as in its package.json. */
export const version: string = pkg.version;
