export { compileTrainStep } from './compileTrainStep.js';
export type { CompiledTrainStep, IoSpec, StateEntry, TrainStepConfig, WeightLayout } from './spec.js';
export { variableOf } from './spec.js';
export { convertLayout, initialTrainState, writeTrainState, type TrainState } from './state.js';
export { createTrainSession, trainStepOrt, updateStepOrt, type GroupStepHypers, type StepHypers, type StepResult, type TrainBatch } from './runner.js';
export { compileUpdateStep } from './updateStep.js';
