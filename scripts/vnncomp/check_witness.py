#!/usr/bin/python3
"""Independent check of a VNN-COMP `sat` answer: shares no code with ibp-verify.

Usage: check_witness.py NET.onnx[.gz] PROP.vnnlib[.gz] RESULT_FILE

Reads the network with the `onnx` Python package (Debian: python3-onnx) and evaluates it
with numpy in float32 (as the competition's onnxruntime check does) and in float64,
parses the VNN-LIB property with its own s-expression reader, and accepts the witness
when every assertion of the property holds with the witness's X values and the float32
outputs. Prints one line; exit 0 accepted, 1 rejected, 2 could not check.
"""
import gzip
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def tokens(text):
    text = re.sub(r";[^\n]*", " ", text)
    return re.findall(r"\(|\)|[^\s()]+", text)


def parse_sexprs(toks):
    stack = [[]]
    for t in toks:
        if t == "(":
            stack.append([])
        elif t == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(t)
    if len(stack) != 1:
        raise ValueError("unbalanced parentheses")
    return stack[0]


def term_value(t, values):
    if isinstance(t, list):
        raise ValueError("nested arithmetic is not supported: %r" % (t,))
    if t in values:
        return values[t]
    return float(t)


def holds(expr, values):
    op, args = expr[0], expr[1:]
    if op == "and":
        return all(holds(a, values) for a in args)
    if op == "or":
        return any(holds(a, values) for a in args)
    a, b = (term_value(x, values) for x in args)
    return {"<=": a <= b, ">=": a >= b, "<": a < b, ">": a > b}[op]


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def evaluate(model, x, dtype):
    g = model.graph
    env = {i.name: numpy_helper.to_array(i).astype(dtype) for i in g.initializer}
    inputs = [i for i in g.input if i.name not in env]
    shape = [d.dim_value or 1 for d in inputs[0].type.tensor_type.shape.dim]
    env[inputs[0].name] = np.asarray(x, dtype=dtype).reshape(shape)
    for n in g.node:
        v = [env[i] for i in n.input if i]
        op = n.op_type
        if op == "Constant":
            r = numpy_helper.to_array(attr(n, "value", None)).astype(dtype)
        elif op == "MatMul":
            r = np.matmul(v[0], v[1])
        elif op == "Gemm":
            a = v[0].T if attr(n, "transA", 0) else v[0]
            b = v[1].T if attr(n, "transB", 0) else v[1]
            r = dtype(attr(n, "alpha", 1.0)) * (a @ b)
            if len(v) > 2:
                r = r + dtype(attr(n, "beta", 1.0)) * v[2]
        elif op in ("Add", "Sub", "Mul", "Div"):
            r = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide}[op](v[0], v[1])
        elif op == "Relu":
            r = np.maximum(v[0], dtype(0))
        elif op == "Flatten":
            axis = attr(n, "axis", 1)
            r = v[0].reshape(int(np.prod(v[0].shape[:axis])), -1)
        elif op == "Reshape":
            r = v[0].reshape([int(s) for s in v[1]])
        elif op in ("Identity", "Dropout"):
            r = v[0]
        else:
            raise ValueError("operator %s is not supported by this checker" % op)
        env[n.output[0]] = np.asarray(r, dtype=dtype)
    return env[g.output[0].name].reshape(-1)


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    net_path, prop_path, result_path = sys.argv[1:]
    try:
        model = onnx.load_model_from_string(read_bytes(net_path))
        prop = parse_sexprs(tokens(read_bytes(prop_path).decode()))
        result = open(result_path).read()
    except (OSError, ValueError, onnx.onnx_cpp2py_export.checker.ValidationError) as e:
        print("check_witness: cannot read input: %s" % e)
        return 2
    if result.split()[0] != "sat":
        print("check_witness: %s does not answer sat" % result_path)
        return 2
    witness = {}
    for name, value in re.findall(r"\(\s*([XY]_\d+)\s+([^\s()]+)\s*\)", result):
        witness[name] = float(value)
    n_x = sum(1 for k in witness if k.startswith("X_"))
    x = [witness["X_%d" % i] for i in range(n_x)]
    asserts = [e[1] for e in prop if isinstance(e, list) and e and e[0] == "assert"]
    verdicts = {}
    for dtype in (np.float32, np.float64):
        try:
            y = evaluate(model, x, dtype)
        except (ValueError, KeyError) as e:
            print("check_witness: %s" % e)
            return 2
        values = {"X_%d" % i: v for i, v in enumerate(x)}
        values.update({"Y_%d" % i: float(v) for i, v in enumerate(y)})
        verdicts[dtype] = all(holds(a, values) for a in asserts)
    ok = verdicts[np.float32]
    note = "" if verdicts[np.float64] == ok else " (float64 evaluation disagrees)"
    print("check_witness: %s%s" % ("accepted" if ok else "REJECTED", note))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
