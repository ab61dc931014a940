/**
 * fastvision: fastai's transfer-learning workflow for image classification,
 * in TypeScript, on TensorFlow.js.
 *
 * @packageDocumentation
 */
export { FastvisionError, osError } from './core/errors.js';
export type { FastvisionErrorCode } from './core/errors.js';
export { initBackend, ensureBackend, backendInfo, backendSpecs } from './engine/backend.js';
export type { BackendInfo, BackendName, BackendSpec, InitBackendOptions } from './engine/backend.js';
export { describeAdapter, type GpuAdapterInfo } from './engine/webgpu/webgpuRuntime.js';
export { env } from './core/env.js';
export type { Env } from './core/env.js';
export { cachedFetch } from './core/download.js';
export type { CachedFile, FetchOptions } from './core/download.js';

export { DataLoaders } from './data/dataLoaders.js';
export { getImageFiles, imageExtensions } from './data/files.js';
export type { GetImageFilesOptions } from './data/files.js';
export type { ShowBatchOptions, WithSizeOptions } from './data/dataLoaders.js';
export { DataLoader } from './data/dataLoader.js';
export type { Batch, DataLoaderOptions } from './data/dataLoader.js';
export type { DataFrameOptions, FolderOptions, LoaderOptions } from './data/options.js';
export { randomSplitter, stratifiedSplitter, colSplitter, grandparentSplitter, funcSplitter } from './data/splitters.js';
export type { GrandparentSplitterOptions, ItemSplitter, Split, Splitter } from './data/splitters.js';
export { DataBlock } from './data/dataBlock.js';
export type { DataBlockLoaderOptions, DataBlockOptions } from './data/dataBlock.js';
export { parentLabel, regexLabeller } from './data/labellers.js';
export type { Label } from './data/labellers.js';
export { imagenetStats } from './data/normalize.js';
export type { NormStats } from './data/normalize.js';
export { BadImageError, decodeImage, decodePixels, defaultLimitInputPixels } from './data/image.js';
export { Resize, RandomResizedCrop, RandomCrop, itemTransformFromConfig } from './data/transforms/itemTransforms.js';
export type { ResizeOptions, RandomResizedCropOptions, ImageSize } from './data/transforms/itemTransforms.js';
export { augTransforms } from './data/transforms/augTransforms.js';
export type { AugTransformsOptions } from './data/transforms/augTransforms.js';
export { affineTransform, batchResize } from './data/transforms/affine.js';
export type { AffineOptions } from './data/transforms/affine.js';
export { lightingTransform } from './data/transforms/lighting.js';
export type { LightingOptions } from './data/transforms/lighting.js';
export { Normalize } from './data/transforms/normalizeTransform.js';
export type { NormalizeTransform } from './data/transforms/normalizeTransform.js';
export type { BatchTransform, DatasetSplit, ItemTransform, ItemTransformConfig, Rng } from './data/transforms/transform.js';
export type { TestDlOptions, TestItem } from './data/testDl.js';
export type { DecodeOptions } from './data/image.js';
export { maxImageSide, resizeImage } from './data/resize.js';
export { resampleBilinear } from './data/resample.js';
export type { Box, Pixels } from './data/resample.js';
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
export { checkSafetensorsHeader, loadSafetensors, parseSafetensors, safetensorsHeaderLength, safetensorsMetadata, serializeSafetensors } from './vision/safetensors.js';
export type { SafetensorsDtype, SafetensorsEntry, SafetensorsHeader, TensorData, TensorToWrite } from './vision/safetensors.js';
export { safetensorsDtypeBits } from './vision/safetensorsDtypes.js';
export { buildMobilenetV2 } from './vision/archs/mobilenetV2.js';
export { buildResnet, resnetConfigs } from './vision/archs/resnet.js';
export type { ResNetConfig } from './vision/archs/resnet.js';


export { Learner } from './learner/learner.js';
export type { FineTuneOptions, FitOneCycleOptions, FitOptions, LearnerOptions, LoadOptions, LrFindOptions, LrFindResult, SaveOptions } from './learner/learner.js';
export type { IncompatibleKeys } from './learner/torchStateDict.js';
export type { ModelSummary } from './learner/summary.js';
export type { ShowResultsOptions } from './learner/showResults.js';
export { visionLearner, cnnLearner } from './learner/visionLearner.js';
export type { VisionLearnerOptions } from './learner/visionLearner.js';
export { loadLearner } from './learner/export.js';
export { isExportDir } from './learner/export.js';
export type { ExportMeta, LoadLearnerOptions } from './learner/export.js';
export type { GetPredsOptions, InferenceConfig, ManyPredictions, PredictManyOptions, Prediction, Preds, TtaOptions } from './learner/inference.js';
export { slice, evenMults, expandHyper, HyperSlice } from './learner/hyper.js';
export type { HyperValue } from './learner/hyper.js';
export { schedLin, schedCos, schedNo, schedExp, schedPoly, combineScheds, combinedCos } from './learner/schedules.js';
export type { Sched } from './learner/schedules.js';
export { Adam, adamDefaults } from './learner/optimizer.js';
export type { Hypers, OptimizerSnapshot, ParamGroup } from './learner/optimizer.js';
export {
  Callback,
  CancelBackwardException,
  CancelBatchException,
  CancelEpochException,
  CancelFitException,
  CancelStepException,
  CancelTrainException,
  CancelValidException,
  events,
} from './learner/callback.js';
export { MixUp, CutMix } from './learner/mixup.js';
export { GradientAccumulation, GradientClip } from './learner/training.js';
export type { EventName } from './learner/callback.js';
export { Recorder, SmoothLoss } from './learner/recorder.js';
export { ParamScheduler } from './learner/scheduler.js';
export type { GroupScheds } from './learner/scheduler.js';
export { ProgressCallback, formatTime } from './learner/progress.js';
export { SaveModelCallback, EarlyStoppingCallback, ReduceLROnPlateau, CSVLogger } from './learner/trackers.js';
export type { SaveModelOptions } from './learner/trackers.js';
export { BnFreeze } from './learner/bnFreeze.js';
export type { FeatureCache, FeatureCacheOptions, FeatureCacheStats } from './learner/featureCache.js';
export type { MonitorOptions } from './learner/trackers.js';
export { LRFinder, valley, slide, slideWith, minimum, steep, suggestionFuncs } from './learner/lrFinder.js';
export type { SuggestionFunc, SuggestionName } from './learner/lrFinder.js';
export { crossEntropyLossFlat, bceWithLogitsLossFlat, labelSmoothingCrossEntropy } from './learner/losses.js';
export type { LossFunc } from './learner/losses.js';
export { accuracy, errorRate, accuracyMulti, avgMetric, Precision, Recall, F1Score, PrecisionMulti, RecallMulti, F1ScoreMulti, toMetric } from './learner/metrics.js';
export type { MultiLabelMetricOptions, AveragedMetricOptions, Metric, MetricFn, MetricLike } from './learner/metrics.js';

export { ClassificationInterpretation, plotTopPredictions } from './interpret/classificationInterpretation.js';
export type { ConfusionMatrixPlotOptions, ImageSource, InterpretationData } from './interpret/classificationInterpretation.js';
export { classificationReport, formatClassificationReport } from './interpret/report.js';
export type { ClassificationReport, ReportRow } from './interpret/report.js';
export { writeImageGrid } from './plot/imageGrid.js';
export type { GridImage, ImageGridOptions } from './plot/imageGrid.js';
export { writeLineChart, writeLineCharts, writeVegaLite } from './plot/lineChart.js';
export type { ChartSpec, LineChartOptions, MarkedPoint, Series } from './plot/lineChart.js';
export { writeHeatmap } from './plot/heatmap.js';
export type { HeatmapOptions } from './plot/heatmap.js';

export { version } from './version.js';

// Deploy: the browser classifier page (`fastvision serve`).
export { servePage, writePage } from './deploy/pageServer.js';
export type { ServePageOptions, PageServer } from './deploy/pageServer.js';
export type { InferenceInfo } from './engine/inference.js';
export type { TrainingEngineName, TrainingInfo } from './engine/training.js';
export type { InferenceEngineName } from './engine/ort/ortRuntime.js';
