#!/usr/bin/env -S node --single-threaded-gc
// --single-threaded-gc: V8's default of 4 GC helper threads competes for the
// cores with the HTTP thread and the inference workers; on 2 cores the CNN on
// wasm served 1.3-1.4x more over binary tensors without them (docs/runtime.md).
import '../dist/runtime/main.js';
