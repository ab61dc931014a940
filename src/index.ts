/**
 * fastvision: fastai's transfer-learning workflow for image classification,
 * in TypeScript, on TensorFlow.js.
 *
 * @packageDocumentation
 */
export { initBackend, backendInfo, backendSpecs } from './core/backend.js';
export type { BackendInfo, BackendName, BackendSpec, InitBackendOptions } from './core/backend.js';
export { env } from './core/env.js';
export type { Env } from './core/env.js';
export { cachedFetch } from './core/download.js';
export type { CachedFile, FetchOptions } from './core/download.js';

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

export { createVisionModel } from './vision/visionModel.js';
export type { VisionModel, VisionModelOptions } from './vision/visionModel.js';
export { createHead } from './vision/head.js';
export type { HeadOptions } from './vision/head.js';
export { bodyFromArch, fromLayersModel } from './vision/body.js';
export type { ArchBodyOptions, LayersModelBodyOptions, VisionBody } from './vision/body.js';
export { pretrainedConfigs, resnet18, resnet34, resnet50, mobilenetV2 } from './vision/pretrained.js';
export type { ArchName, PretrainedConfig } from './vision/pretrained.js';
export { pretrainedWeights, weightsLocation } from './vision/weights.js';
export { loadStateDict } from './vision/torchWeights.js';
export type { KeyMap, LoadStateDictOptions } from './vision/torchWeights.js';
export { loadSafetensors, parseSafetensors, serializeSafetensors } from './vision/safetensors.js';
export type { SafetensorsDtype, TensorData } from './vision/safetensors.js';
export { buildMobilenetV2 } from './vision/archs/mobilenetV2.js';
export { buildResnet, resnetConfigs } from './vision/archs/resnet.js';
export type { ResNetConfig } from './vision/archs/resnet.js';

export { version } from './version.js';
