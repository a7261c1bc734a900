#!/usr/bin/env python3
"""Writes a small synthetic Fashion-MNIST-shaped dataset for command-line tests:
ROOT/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte, images whose class
decides a bright square's position (learnable in a few epochs), labels 0..9; a fraction NOISE of the labels (default 0) is replaced by a random class.
usage: make_idx.py ROOT N_TRAIN N_TEST [SIZE [NOISE]]"""
import os
import random
import struct
import sys


def write_split(folder, prefix, n, size, noise, rng):
    images = bytearray()
    labels = bytearray()
    for _ in range(n):
        y = rng.randrange(10)
        img = bytearray(rng.randrange(0, 60) for _ in range(size * size))
        r0, c0 = 2 + (y // 5) * (size // 2), 2 + (y % 5) * (size // 6)
        for r in range(r0, min(r0 + size // 4, size)):
            for c in range(c0, min(c0 + 3, size)):
                img[r * size + c] = 200 + rng.randrange(56)
        images += img
        labels.append(rng.randrange(10) if rng.random() < noise else y)
    with open(os.path.join(folder, prefix + '-images-idx3-ubyte'), 'wb') as f:
        f.write(struct.pack('>IIII', 0x803, n, size, size) + bytes(images))
    with open(os.path.join(folder, prefix + '-labels-idx1-ubyte'), 'wb') as f:
        f.write(struct.pack('>II', 0x801, n) + bytes(labels))


def main():
    root, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 28
    noise = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    folder = os.path.join(root, 'fashion-mnist')
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(7)
    write_split(folder, 'train', n_train, size, noise, rng)
    write_split(folder, 't10k', n_test, size, noise, rng)


main()
