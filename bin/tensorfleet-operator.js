#!/usr/bin/env node
import '../dist/operator/main.js';
