/**
 * fastvision: fastai's transfer-learning workflow for image classification,
 * in TypeScript, on TensorFlow.js.
 *
 * @packageDocumentation
 */
export { initBackend, backendInfo, backendSpecs } from './core/backend.js';
export type { BackendInfo, BackendName, BackendSpec, InitBackendOptions } from './core/backend.js';

export { DataLoaders, imageExtensions } from './data/dataLoaders.js';
export type { ShowBatchOptions, WithSizeOptions } from './data/dataLoaders.js';
export { DataLoader } from './data/dataLoader.js';
export type { Batch, DataLoaderOptions } from './data/dataLoader.js';
export type { DataFrameOptions, FolderOptions, LoaderOptions } from './data/options.js';
export { randomSplitter, stratifiedSplitter, colSplitter } from './data/splitters.js';
export type { Split, Splitter } from './data/splitters.js';
export { imagenetStats } from './data/normalize.js';
export type { NormStats } from './data/normalize.js';
export { BadImageError, decodeImage, defaultLimitInputPixels } from './data/image.js';
export type { PadMode, ResizeMethod, ResizeSpec } from './data/image.js';
export { ImageCache, defaultCacheMemoryBytes } from './data/imageCache.js';
export type { CacheOptions, CacheStats } from './data/imageCache.js';
export type { ImageDataset, OnBadImage } from './data/dataset.js';
export type { ImageItem, SkippedItem } from './data/items.js';
export { readCsv } from './data/table.js';
export type { ColumnRef, Row } from './data/table.js';

export { version } from './version.js';
