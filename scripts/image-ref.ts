// Prints the runtime image named by platform.yaml, `registry/repository:tag`, for the image scripts.
import { loadPlatform, runtimeImageRef } from '../model/index.js';

const ref = runtimeImageRef(loadPlatform(process.argv[2] ?? 'platform.yaml'));
if (!ref) {
  process.stderr.write('image-ref: platform.yaml names no runtimeImage\n');
  process.exit(1);
}
process.stdout.write(`${ref}\n`);
