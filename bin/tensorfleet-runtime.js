#!/usr/bin/env node
import '../dist/runtime/main.js';
