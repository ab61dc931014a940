import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicApiDocs } from './helpers/apiDocs.js';

// typedoc checks links and that every public type is exported; this checks that every
// export of src/index.ts is documented the way the API reference promises.
describe('TSDoc of the public API', () => {
  const docs = publicApiDocs(join(import.meta.dirname, '..'));

  it('sees the whole API', () => {
    expect(docs.length).toBeGreaterThan(150);
    expect(docs.map((d) => d.name)).toEqual(expect.arrayContaining(['DataLoaders', 'visionLearner', 'Learner', 'slice', 'ClassificationInterpretation', 'loadLearner']));
  });

  it('gives every export a summary', () => {
    expect(docs.filter((d) => !d.summary).map((d) => d.name)).toEqual([]);
  });

  it('gives every function, class and value an @example', () => {
    expect(docs.filter((d) => d.kind !== 'type' && !d.tags.includes('example')).map((d) => d.name)).toEqual([]);
  });

  it('documents every parameter of exported functions and constructors', () => {
    expect(docs.filter((d) => d.undocumentedParams.length).map((d) => `${d.name}(${d.undocumentedParams.join(', ')})`)).toEqual([]);
  });
});
