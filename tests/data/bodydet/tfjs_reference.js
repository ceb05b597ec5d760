// Reference outputs of MoveNet MultiPose from TensorFlow.js itself (CPU backend), for vidpose's runner tests.
// usage: node ref.js MODEL.json WEIGHTS.bin INPUT.bin H W OUT.bin   (INPUT: int32 NHWC, 1 x H x W x 3)
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
(async () => {
  const [json, bin, input, h, w, out] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const spec = JSON.parse(fs.readFileSync(json));
  const buf = fs.readFileSync(bin);
  const weightData = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const weightSpecs = [].concat(...spec.weightsManifest.map((g) => g.weights));
  const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: spec.modelTopology, weightSpecs, weightData }));
  const b = fs.readFileSync(input);
  const x = tf.tensor4d(new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4), [1, +h, +w, 3], 'int32');
  const y = await model.execute(x).data();
  fs.writeFileSync(out, Buffer.from(new Float32Array(y).buffer));
})();
