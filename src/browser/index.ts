/**
 * fastvision in a web page: load an export with the page's tfjs and classify images
 * exactly as `learn.predict` does in Node. Built to `dist/browser.js` (no tfjs inside:
 * the page brings its own), and served with the example page by `fastvision serve`.
 *
 * @packageDocumentation
 */
export { loadClassifier, type BrowserTf, type Classifier, type ClassScore } from './classifier.js';
export { preprocess, rgbPixels, type PreprocessTf, type RawImage } from './preprocess.js';
