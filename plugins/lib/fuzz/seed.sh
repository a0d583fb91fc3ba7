#!/bin/sh
# seed.sh KIND DIR: a seed corpus of small valid files for fuzz_KIND.
set -e
mkdir -p "$2"
case $1 in
csv)
	printf 'a,b,c\n1,2,3\n' > "$2/plain.csv"
	printf '\357\273\277x,"y ""q"""\r\n1,"multi\nline"\r\n' > "$2/quoted.csv"
	head -5 examples/iris/data/iris.csv > "$2/iris.csv"
	;;
npy)
	/usr/bin/python3 -c "
import numpy as np
np.save('$2/f.npy', np.arange(12, dtype='<f4').reshape(3, 4))
np.save('$2/i.npy', np.arange(5, dtype='<i8'))"
	;;
safetensors)
	/usr/bin/python3 -c "
import json, struct
h = {'__metadata__': {'format': 'kiln-model/1', 'kind': 'mlp', 'task': 'classification',
     'layers': '2', 'activations': 'relu,softmax'},
     'layer0.weight': {'dtype': 'F32', 'shape': [2, 3], 'data_offsets': [0, 24]},
     'layer0.bias': {'dtype': 'F32', 'shape': [3], 'data_offsets': [24, 36]},
     'layer1.weight': {'dtype': 'F32', 'shape': [3, 2], 'data_offsets': [36, 60]},
     'layer1.bias': {'dtype': 'F32', 'shape': [2], 'data_offsets': [60, 68]}}
t = json.dumps(h, sort_keys=True).encode()
open('$2/mlp.safetensors', 'wb').write(struct.pack('<Q', len(t)) + t + bytes(68))"
	;;
esac
