"""Train a small PyTorch MLP on kiln's digits features, deterministically,
checkpointing every epoch into $KILN_CHECKPOINT and resuming from it.

usage: train.py FEATURES_DIR OUT_DIR

The params come from $KILN_PARAMS (the command's params as JSON): epochs,
hidden, lr, batch_size, seed. Writes OUT_DIR/model.safetensors (kiln's model
format: kiln's test plugin and kiln-serve take it), model.json and
metrics.json. A resumed training writes the same bytes as one never
interrupted: the checkpoint holds the weights, Adam's state, the generator
that shuffles the rows, the epoch and the history.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

# Deterministic: one thread, deterministic kernels, fixed seeds.
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


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


def save_checkpoint(folder, state):
    """Whole or not at all: a temporary file, then a rename."""
    tmp = os.path.join(folder, "train.pt.tmp")
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(folder, "train.pt"))


def accuracy(model, X, y):
    with torch.no_grad():
        return (model(X).argmax(1) == y).double().mean().item()


def main():
    feat, out = sys.argv[1], sys.argv[2]
    params = json.load(open(os.environ["KILN_PARAMS"]))
    epochs, hidden = params["epochs"], params["hidden"]
    X = torch.from_numpy(np.load(f"{feat}/X_train.npy").astype(np.float32))
    y = torch.from_numpy(np.load(f"{feat}/y_train.npy").astype(np.int64))
    Xt = torch.from_numpy(np.load(f"{feat}/X_test.npy").astype(np.float32))
    yt = torch.from_numpy(np.load(f"{feat}/y_test.npy").astype(np.int64))
    transform = json.load(open(f"{feat}/transform.json"))
    classes = transform["classes"]

    torch.manual_seed(params["seed"])
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, len(classes)))
    opt = torch.optim.Adam(model.parameters(), lr=params["lr"])
    rows = torch.Generator().manual_seed(params["seed"])
    start, history = 0, []

    ckpt = os.environ.get("KILN_CHECKPOINT")
    if ckpt and os.path.exists(os.path.join(ckpt, "train.pt")):
        state = torch.load(os.path.join(ckpt, "train.pt"))
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rows.set_state(state["rows"])
        start, history = state["epoch"], state["history"]
        print(f"resumed from the checkpoint at epoch {start} of {epochs}", flush=True)

    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(start, epochs):
        order = torch.randperm(len(X), generator=rows)
        total = 0.0
        for i in range(0, len(X), params["batch_size"]):
            idx = order[i:i + params["batch_size"]]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append({"epoch": epoch + 1, "loss": total / len(X)})
        if ckpt:
            save_checkpoint(ckpt, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                   "rows": rows.get_state(), "epoch": epoch + 1, "history": history})
        print(f"epoch {epoch + 1}/{epochs} loss {total / len(X):.6f}; checkpoint saved", flush=True)

    # kiln's mlp layout: layerN.weight [in, out], layerN.bias [out].
    lin = [m for m in model if isinstance(m, torch.nn.Linear)]
    tensors = {}
    for n, l in enumerate(lin):
        tensors[f"layer{n}.weight"] = l.weight.detach().numpy().T
        tensors[f"layer{n}.bias"] = l.bias.detach().numpy()
    write_safetensors(f"{out}/model.safetensors", tensors,
                      {"format": "kiln-model/1", "kind": "mlp", "task": "classification",
                       "layers": str(len(lin)), "activations": "relu,softmax"})
    with open(f"{out}/model.json", "w") as f:
        json.dump({"format": "kiln-model/1", "kind": "mlp", "task": "classification",
                   "classes": classes, "label": transform["label"], "transform": transform,
                   "trainer": f"PyTorch {torch.__version__}"}, f, sort_keys=True, indent=2)
        f.write("\n")
    with open(f"{out}/metrics.json", "w") as f:
        json.dump({"accuracy": {"train": accuracy(model, X, y), "test": accuracy(model, Xt, yt)},
                   "loss": history[-1]["loss"], "epochs": epochs}, f, sort_keys=True, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
