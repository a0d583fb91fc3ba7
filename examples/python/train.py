"""Train scikit-learn's LogisticRegression on kiln's features and write the
model in kiln's format (model.safetensors + model.json), so kiln's test
plugin evaluates it like a model of its own.

usage: train.py FEATURES_DIR OUT_DIR
"""
import json
import struct
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression


def write_safetensors(path, tensors, metadata):
    """The safetensors format by hand: no package needed."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    header["__metadata__"] = metadata
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    feat, out = sys.argv[1], sys.argv[2]
    X = np.load(f"{feat}/X_train.npy")
    y = np.load(f"{feat}/y_train.npy")
    classes = json.load(open(f"{feat}/transform.json"))["classes"]
    clf = LogisticRegression(max_iter=1000, random_state=0).fit(X, y)
    # kiln's softmax layer: weight [inputs, classes], bias [classes].
    write_safetensors(f"{out}/model.safetensors",
                      {"layer0.weight": clf.coef_.T, "layer0.bias": clf.intercept_},
                      {"format": "kiln-model/1", "kind": "softmax",
                       "task": "classification", "layers": "1",
                       "activations": "softmax"})
    # The features' transform, as kiln's train plugin keeps it: kiln-serve
    # then takes raw columns, and test checks features against it.
    transform = json.load(open(f"{feat}/transform.json"))
    with open(f"{out}/model.json", "w") as f:
        json.dump({"format": "kiln-model/1", "kind": "softmax",
                   "task": "classification", "classes": classes,
                   "label": transform["label"], "transform": transform,
                   "trainer": "scikit-learn LogisticRegression"},
                  f, sort_keys=True, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
