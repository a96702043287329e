import { defineProject } from 'vitest/config';

// The browser tests get a group of their own, so no other test file runs beside them: six Chromium
// pages encoding and decoding video take both cores of a CI machine, and beside another media test
// a mute took over 10 s to show (CI, 2 cores).
export default defineProject({
  test: {
    sequence: { groupOrder: 1 },
    maxWorkers: 1,
  },
});
