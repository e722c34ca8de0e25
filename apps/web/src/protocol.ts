/** Messages between the page and the SynPo worker. Arrays travel as transferables. */
import type { PromptPoint } from '@synpo/core';

export interface RunRequest {
  type: 'run';
  /** 'gpu' uses any WebGPU adapter (falling back to the CPU with a notice), 'cpu' forces the references. */
  device: 'gpu' | 'cpu';
  backend: 'weight-free' | 'onnx';
  /** For the ONNX backend: the picked files by name (manifest.json and the graphs). */
  models?: Record<string, ArrayBuffer>;
  supportImage: Float32Array;
  supportMask: Uint8Array;
  /** Query slices to segment: their z and ROI images. */
  zs: number[];
  queries: Float32Array;
  band: { alpha: number; beta: number };
  seed: number;
}

export interface SliceMessage {
  type: 'slice';
  z: number;
  final: Uint8Array;
  synmap: Float32Array;
  positives: PromptPoint[];
  negatives: PromptPoint[];
}

export type WorkerMessage =
  | { type: 'device'; path: 'gpu' | 'cpu'; description: string; notice?: string }
  | { type: 'progress'; done: number; total: number }
  | SliceMessage
  | {
    type: 'done';
    timings: Record<string, number>;
    slices: number;
    /** GPU path: what crossed between the worker and the GPU during the run (support included). */
    transfers?: { uploadBytes: number; readbackBytes: number; submits: number };
    /** ONNX backend: the execution provider of each model, and whether outputs stayed on the GPU. */
    providers?: string;
  }
  | { type: 'error'; message: string };
