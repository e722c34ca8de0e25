/** Messages between the page and the SynPo worker. Arrays travel as transferables. */
import type { HostEncoding, PromptPoint, SliceStack } from '@synpo/core';

export interface RunRequest {
  type: 'run';
  /**
   * 'auto' uses a hardware WebGPU adapter and the CPU references on a software one (as the CLI's
   * --device auto); 'gpu' uses any WebGPU adapter (falling back to the CPU with a notice); 'cpu'
   * forces the references.
   */
  device: Device;
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

export type Device = 'auto' | 'gpu' | 'cpu';

/**
 * The whole query volume, every picked organ in one pass: segmentOrgans as `synpo segment
 * --organs` runs it (the protocol's support slices, the organ ranges carried over, the
 * propagation pass, overlaps to the higher confidence).
 */
export interface VolumeRequest {
  type: 'volume';
  device: Device;
  backend: 'weight-free' | 'onnx';
  models?: Record<string, ArrayBuffer>;
  /** The prepared volumes' canonical slices (what clones: a decoded file's header does not). */
  support: SliceStack;
  query: SliceStack;
  /** Each organ's name, the value written and its support masks ([nz][ROI·ROI]). */
  organs: { name: string; value: number; masks: Uint8Array }[];
  /** One painted support slice for every query slice, instead of the protocol's three. */
  supportSlice?: number;
  band: { alpha: number; beta: number };
  seed: number;
  /** One of several workers: send back each organ's masks and fused maps, for the page to combine. */
  part?: boolean;
  /**
   * With `part` on the CPU references: the query slices this worker encodes for all the workers
   * first (posted back as `encoded`); it segments once the page has sent the others' encodings
   * it needs (EncodingsMessage). Each slice is encoded once between the workers.
   */
  encode?: number[];
}

/** The page to a worker of a split run: the other workers' encodings of the slices it needs. */
export interface EncodingsMessage {
  type: 'encodings';
  encodings: Map<number, HostEncoding>;
}

export interface VolumeMessage {
  type: 'volume';
  /** [nz][ROI·ROI] every organ's value where it won, canonical slices. */
  labels: Uint16Array;
  organs: { name: string; value: number; range: [number, number]; supportSlices: number[] }[];
  /** The union of the organs' ranges: slices outside it are not segmented. */
  range: [number, number];
  organSlices: number;
  propagatedSlices: number;
  seconds: number;
  /** With `part`: each organ's own masks and fused maps (slice → 64×64), for combineOrgans. */
  parts?: { value: number; masks: Uint8Array; confidence: Map<number, Float32Array> }[];
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
  | { type: 'progress'; done: number; total: number; label?: string }
  | SliceMessage
  | VolumeMessage
  | { type: 'encoded'; encodings: Map<number, HostEncoding> }
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
