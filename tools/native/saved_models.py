"""Writes the TF SavedModels that the runtime's tests load with the
`tensorflow` backend (`format: tf-saved-model`), made by TensorFlow itself.

Usage: python saved_models.py OUT_DIR

Run by tools/native/setup.sh in a virtualenv holding the same tensorflow-cpu
wheel whose libraries the native backend links, so the models come from the
TensorFlow release that serves them. Writes:

  OUT_DIR/half_plus_two/   y = 0.5 * x + 2 (TF Serving's example), x: float32 [batch]
  OUT_DIR/dense/           two inputs, three outputs (float32 and int32), weights in variables
  OUT_DIR/expected.json    inputs and the outputs TensorFlow computed for them, per model
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf


class HalfPlusTwo(tf.Module):
    def __init__(self):
        super().__init__()
        self.a = tf.Variable(0.5, dtype=tf.float32, name="a")
        self.b = tf.Variable(2.0, dtype=tf.float32, name="b")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": self.a * x + self.b}


class Dense(tf.Module):
    """scores = relu(features @ w + bias); label = argmax(scores); steps = round(steps_in) * 2.

    `steps` runs Round on int32, which TensorFlow 2.17 and later answer with
    zeros (tensorflow#74789): the test catches a libtensorflow with that bug.
    """

    def __init__(self):
        super().__init__()
        rng = np.random.RandomState(7)
        self.w = tf.Variable(rng.uniform(-1, 1, (4, 3)).astype(np.float32), name="w")
        self.bias = tf.Variable(rng.uniform(-0.5, 0.5, (3,)).astype(np.float32), name="bias")

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 4], tf.float32, name="features"),
            tf.TensorSpec([None], tf.int32, name="steps_in"),
        ]
    )
    def serve(self, features, steps_in):
        scores = tf.nn.relu(tf.matmul(features, self.w) + self.bias)
        return {
            "scores": scores,
            "label": tf.cast(tf.argmax(scores, axis=1), tf.int32),
            # tf.round returns integer tensors unchanged in Python; the raw op
            # puts a real Round node in the graph.
            "steps": tf.raw_ops.Round(x=steps_in) * 2,
        }


def save(module, path):
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


def as_json(tensors):
    return {k: {"dtype": v.dtype.name, "shape": list(v.shape), "data": v.numpy().ravel().tolist()}
            for k, v in tensors.items()}


def main(out):
    os.makedirs(out, exist_ok=True)
    expected = {}

    hpt = HalfPlusTwo()
    save(hpt, os.path.join(out, "half_plus_two"))
    x = tf.constant([1.0, 2.0, 5.0])
    expected["half_plus_two"] = {"inputs": as_json({"x": x}), "outputs": as_json(hpt.serve(x))}

    dense = Dense()
    save(dense, os.path.join(out, "dense"))
    rng = np.random.RandomState(11)
    inputs = {
        "features": tf.constant(rng.uniform(-2, 2, (5, 4)).astype(np.float32)),
        "steps_in": tf.constant([0, 1, -3, 7, 100], dtype=tf.int32),
    }
    expected["dense"] = {"inputs": as_json(inputs), "outputs": as_json(dense.serve(**inputs))}

    # Read back through the SavedModel API, as a server would, to be sure the
    # files answer as the modules did.
    for name in expected:
        fn = tf.saved_model.load(os.path.join(out, name)).signatures["serving_default"]
        ins = {k: tf.constant(np.array(v["data"], dtype=v["dtype"]).reshape(v["shape"]))
               for k, v in expected[name]["inputs"].items()}
        got = as_json(fn(**ins))
        if got != expected[name]["outputs"]:
            raise SystemExit(f"{name}: reloaded SavedModel answers {got}, expected {expected[name]['outputs']}")

    expected["tensorflow"] = tf.__version__
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
